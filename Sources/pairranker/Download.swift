import ArgumentParser
import Foundation
import Hub

/// `pairranker download`.
struct Download: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Download a model from the Hugging Face Hub into the standard cache (shared with Python tools); prints its directory.",
        discussion: "Honours HF_ENDPOINT, HF_TOKEN, HF_HUB_OFFLINE, HF_HUB_CACHE and HF_HOME. An interrupted download resumes.")

    @Argument(help: "Model id, ORG/NAME.") var model: String = ModelLocator.defaultModel
    @Option(help: "Branch, tag or commit.") var revision = "main"

    func run() throws {
        do {
            print(try HubDownloader(options: HubDownloader.Options()).download(repo: model, revision: revision))
        } catch let e as HubError {
            FileHandle.standardError.write(Data("error: \(e.message)\n".utf8))
            throw ExitCode(1)
        }
    }
}
