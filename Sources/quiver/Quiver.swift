import ArgumentParser
import VectorMath

@main
struct Quiver: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "quiver",
        abstract: "Quiver: an embeddings and semantic search server.",
        subcommands: [
            ServeCommand.self, IndexCommand.self, QueryCommand.self, ExportCommand.self, InfoCommand.self,
            EmbedCommand.self, TokenizeCommand.self, DemoCommand.self, BackupCommand.self, RestoreCommand.self,
            CheckCommand.self, EvalCommand.self, PromoteCommand.self, DiscardCommand.self, MigrateCommand.self,
            WorkerCommand.self, SettingsCommand.self, InsightsCommand.self,
        ]
    )

    /// Stops OpenBLAS's spinning thread pool before anything else runs (see
    /// `VectorMath.stopBLASThreadPool()`), then parses and runs the command.
    static func main() async {
        VectorMath.stopBLASThreadPool()
        await main(nil)
    }
}
