import ArgumentParser
import Foundation
import QueryLog
import SearchEngine

/// `quiver insights --collection C [--since TIME] [--json]`: the report of a collection's query log.
struct InsightsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "insights",
        abstract: "Report what a collection was asked: unanswered questions by topic, the most asked, the most returned.",
        discussion: """
            Reads the query log a server keeps for a collection whose query_log setting is on \
            (quiver settings -c C --set query_log=true), in this data directory: with a shared PostgreSQL store, each \
            server logs the queries it answered.
            """)

    @OptionGroup var collection: CollectionOption
    @OptionGroup var data: DataOptions

    @Option(help: "Start of the period: seconds since 1970 or an ISO 8601 time (default: seven days ago).")
    var since: String?

    @Flag(help: "Print JSON.")
    var json = false

    func run() throws {
        var start: Double?
        if let since {
            guard let parsed = Double(since) ?? Timestamp(iso8601: since)?.seconds else {
                throw ValidationError("--since: expected seconds since 1970 or an ISO 8601 time")
            }
            start = parsed
        }
        let engine = try data.engine(model: nil)
        let name = collection.collection
        let report = try cli { () throws(SearchEngineError) in try engine.collection(name).insights(since: start) }
        if json {
            print(try jsonLine(report))
            return
        }
        print(Self.table(report, collection: name))
    }

    /// The report as text for a terminal.
    static func table(_ report: QueryInsights, collection: String) -> String {
        func time(_ seconds: Double) -> String {
            let formatter = ISO8601DateFormatter()
            formatter.formatOptions = [.withFullDate, .withTime, .withColonSeparatorInTime]
            return formatter.string(from: Date(timeIntervalSince1970: seconds))
        }
        func share(_ part: Int, _ whole: Int) -> String {
            whole == 0 ? "0 %" : String(format: "%.1f %%", 100 * Double(part) / Double(whole))
        }
        var lines = [
            "\(collection): \(report.queries) queries from \(time(report.since)) to \(time(report.until))",
            "  unanswered \(report.unanswered) (\(share(report.unanswered, report.queries))), low confidence (below "
                + String(format: "%.2f", report.lowConfidenceBelow)
                + ") \(report.lowConfidence), without a verdict \(report.withoutVerdict)",
            "  feedback: \(report.feedback.helpful) helpful, \(report.feedback.unhelpful) not helpful",
        ]
        if report.queries == 0 {
            lines.append("  nothing logged in this period (is the collection's query_log setting on?)")
            return lines.joined(separator: "\n")
        }
        if !report.gaps.isEmpty {
            lines += ["", "Unanswered and low-confidence questions by topic:"]
            for gap in report.gaps {
                lines.append(
                    "  \(gap.size) (\(gap.unanswered) unanswered, mean confidence " + String(format: "%.2f", gap.meanConfidence) + ")"
                        + (gap.topDocument.map { ", best hit usually \($0)" } ?? "") + ": "
                        + gap.queries.map { "\"\($0)\"" }.joined(separator: ", "))
            }
        }
        lines += ["", "Most asked:"]
        for asked in report.topQueries.prefix(10) {
            lines.append("  \(asked.count)× \(asked.text.map { "\"\($0)\"" } ?? "(hashed \(asked.key))") — unanswered \(asked.unanswered)")
        }
        lines += ["", "Most returned:"]
        for document in report.topDocuments.prefix(10) {
            lines.append(
                "  \(document.id): in \(document.count) answers, first in \(document.first); feedback +\(document.helpful) −\(document.unhelpful)"
            )
        }
        lines += ["", "Over time (\(report.bucketSeconds == 3_600 ? "per hour" : "per day"), queries / unanswered):"]
        for bucket in report.overTime where bucket.queries > 0 {
            lines.append("  \(time(bucket.start))  \(bucket.queries) / \(bucket.unanswered)")
        }
        return lines.joined(separator: "\n")
    }
}
