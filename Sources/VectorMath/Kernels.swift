import CKernels
import Foundation

/// Which instruction set the numeric kernels run on, chosen once per process: AVX-512 where the CPU
/// and the OS support it, else the AVX2+FMA code the rest of the binary is compiled for. The
/// environment variable `QUIVER_KERNELS=avx2` forces the fallback (tests run both paths on one
/// machine); `QUIVER_KERNELS=avx512` on a CPU without it is ignored with a warning on stderr.
public enum Kernels: String, Sendable, CaseIterable {
    /// 256-bit AVX2 with FMA: Swift SIMD code compiled for Haswell.
    case avx2
    /// 512-bit AVX-512 (F, BW, VL, DQ): C kernels compiled for it, entered after a cpuid check.
    case avx512

    /// The kernels this process uses.
    public static let active: Kernels = choose(features: features, override: ProcessInfo.processInfo.environment["QUIVER_KERNELS"])

    /// `quiver_cpu_features()`, read once: `cpuid` is slow, and in a virtual machine it traps to
    /// the hypervisor (asked per GEMM call, it took 1.8 % of an encoder profile).
    static let features: Int32 = quiver_cpu_features()
    static let hasAVX512 = features & Int32(QUIVER_CPU_AVX512) != 0
    /// Whether the CPU has AVX512_BF16 (`vdpbf16ps`), checked with AVX-512 itself.
    public static let hasBF16 = features & Int32(QUIVER_CPU_AVX512_BF16) != 0
    /// Whether the CPU has AVX512_VNNI (`vpdpbusd`), checked with AVX-512 itself.
    public static let hasVNNI = features & Int32(QUIVER_CPU_AVX512_VNNI) != 0

    /// How the bf16 GEMM runs in this process (and the bf16 layers of an int8 encoder).
    public static let bf16: BF16Kernel = BF16Kernel.choose(
        kernels: active, override: ProcessInfo.processInfo.environment["QUIVER_BF16_KERNEL"])

    /// Whether this CPU (and OS) can run `kernels`.
    public static func supported(_ kernels: Kernels) -> Bool {
        switch kernels {
        case .avx2: return true
        case .avx512: return hasAVX512
        }
    }

    /// The CPU's features Quiver knows of, for the start-up log and `/v1/info`: `avx512`,
    /// `avx512_bf16`, `avx512_vnni`, `avx2_fma`.
    public static var cpuFeatures: [String] {
        var names: [String] = []
        if features & Int32(QUIVER_CPU_AVX2_FMA) != 0 { names.append("avx2_fma") }
        if features & Int32(QUIVER_CPU_AVX512) != 0 { names.append("avx512") }
        if features & Int32(QUIVER_CPU_AVX512_BF16) != 0 { names.append("avx512_bf16") }
        if features & Int32(QUIVER_CPU_AVX512_VNNI) != 0 { names.append("avx512_vnni") }
        return names
    }

    static func choose(features: Int32, override: String?) -> Kernels {
        let avx512 = features & Int32(QUIVER_CPU_AVX512) != 0
        switch override?.lowercased() {
        case "avx2": return .avx2
        case "avx512":
            if !avx512 { FileHandle.standardError.write(Data("quiver: QUIVER_KERNELS=avx512 ignored: this CPU has no AVX-512\n".utf8)) }
            return avx512 ? .avx512 : .avx2
        case nil, "": return avx512 ? .avx512 : .avx2
        case let other?:
            FileHandle.standardError.write(Data("quiver: QUIVER_KERNELS=\(other) ignored (avx2, avx512)\n".utf8))
            return avx512 ? .avx512 : .avx2
        }
    }
}

/// The three ways the bf16 GEMM can run. They compute the same products of the same rounded
/// operands with fp32 accumulation; ``avx512`` and ``avx2`` give the same bits, ``vdpbf16ps``
/// agrees with them to fp32 rounding (its pairs are summed inside the instruction).
public enum BF16Kernel: String, Sendable, CaseIterable {
    /// AVX512_BF16 dot products: two products per lane per instruction.
    case vdpbf16ps
    /// bf16 widened to fp32 in 512-bit registers, two FMAs per pair of inputs: for AVX-512 CPUs
    /// without AVX512_BF16, and for those where `vdpbf16ps` delivers fewer FLOPs than FMAs.
    case avx512
    /// The same widening on 256-bit AVX2+FMA: runs on any CPU Quiver runs on.
    case avx2

    /// Whether this CPU can run `self`.
    public var isSupported: Bool {
        switch self {
        case .vdpbf16ps: return Kernels.supported(.avx512) && Kernels.hasBF16
        case .avx512: return Kernels.supported(.avx512)
        case .avx2: return true
        }
    }

    /// The argument of `quiver_gemm_packed_bf16` that selects `self`.
    var code: Int32 {
        switch self {
        case .avx2: return 0
        case .vdpbf16ps: return 1
        case .avx512: return 2
        }
    }

    /// The bf16 kernel for `kernels`: with AVX-512, `vdpbf16ps` when the CPU has it and it
    /// delivers at least the FLOPs of two FMAs (measured once: about twice on AMD Zen 4 and 5,
    /// half on the Intel Xeon measured), else the widening AVX-512 kernel; with AVX2, the twin.
    /// `QUIVER_BF16_KERNEL` (`vdpbf16ps`, `avx512`, `avx2`) overrides it when this CPU and
    /// `kernels` allow it.
    static func choose(kernels: Kernels, override: String?) -> BF16Kernel {
        if kernels == .avx2 { return .avx2 }
        if let override, !override.isEmpty {
            if let forced = BF16Kernel(rawValue: override.lowercased()), forced.isSupported { return forced }
            FileHandle.standardError.write(
                Data("quiver: QUIVER_BF16_KERNEL=\(override) ignored (vdpbf16ps, avx512, avx2 where this CPU has them)\n".utf8))
        }
        guard Kernels.hasBF16 else { return .avx512 }
        return quiver_probe_dpbf16_over_fma() >= 1 ? .vdpbf16ps : .avx512
    }
}
