import ArgumentParser

@main
struct Quiver: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "quiver",
        abstract: "Quiver: an embeddings and semantic search server.",
        subcommands: [
            EmbedCommand.self, TokenizeCommand.self, DemoCommand.self,
            IndexCommand.self, QueryCommand.self, ExportCommand.self, InfoCommand.self,
        ]
    )
}
