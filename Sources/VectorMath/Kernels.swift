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
