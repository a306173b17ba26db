import Foundation

/// Ingest progress on standard error: a redrawn bar with docs/s and ETA on a terminal, a plain
/// line every few seconds otherwise.
struct ProgressReporter {
    let total: Int?
    let isTerminal = isatty(STDERR_FILENO) == 1
    let start = Date()
    private var lastDraw = Date.distantPast

    init(total: Int?) { self.total = total }

    mutating func update(done: Int, force: Bool = false) {
        let now = Date()
        guard force || now.timeIntervalSince(lastDraw) >= (isTerminal ? 0.2 : 5) else { return }
        lastDraw = now
        let elapsed = max(now.timeIntervalSince(start), 1e-6)
        let rate = Double(done) / elapsed
        var eta = ""
        if let total, rate > 0, total >= done { eta = "  ETA " + Self.duration(Double(total - done) / rate) }
        let count = total.map { "\(done)/\($0)" } ?? "\(done)"
        let rateText = String(format: "%.1f docs/s", rate)
        if isTerminal {
            var bar = ""
            if let total, total > 0 {
                let width = 30
                let filled = min(width, done * width / total)
                bar = "[" + String(repeating: "#", count: filled) + String(repeating: "-", count: width - filled) + "] "
            }
            FileHandle.standardError.write(Data("\r\u{1B}[K\(bar)\(count) docs  \(rateText)\(eta)".utf8))
        } else {
            printError("progress: \(count) docs, \(rateText)\(eta)")
        }
    }

    func finish() {
        if isTerminal { FileHandle.standardError.write(Data("\n".utf8)) }
    }

    static func duration(_ seconds: Double) -> String {
        guard seconds.isFinite, seconds < 1e7 else { return "?" }
        let s = Int(seconds)
        return s >= 3600 ? "\(s / 3600)h\(s % 3600 / 60)m" : s >= 60 ? "\(s / 60)m\(s % 60)s" : "\(s)s"
    }
}

/// Lines in a file (for the progress total), counted without decoding; nil for standard input.
func countLines(_ path: String) -> Int? {
    guard path != "-", let handle = FileHandle(forReadingAtPath: path) else { return nil }
    defer { try? handle.close() }
    var lines = 0
    while let chunk = try? handle.read(upToCount: 1 << 20), !chunk.isEmpty {
        lines += chunk.reduce(0) { $0 + ($1 == 0x0A ? 1 : 0) }
    }
    return lines
}
