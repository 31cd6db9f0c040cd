import Foundation
import Testing

@testable import Hub

@Suite(.serialized) struct DownloadTests {
    static let fixture = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Fixtures/tiny-pair-ranker").path
    static let files: [String: Data] = Dictionary(uniqueKeysWithValues: ["config.json", "ranker_config.json", "tokenizer.json", "model.safetensors",
                                                                         "added_tokens.json", "spm.model"].map {
        ($0, try! Data(contentsOf: URL(fileURLWithPath: fixture + "/" + $0)))
    })

    func options(_ hub: FakeHub, cache: String, env extra: [String: String] = [:]) -> HubDownloader.Options {
        var o = HubDownloader.Options(environment: ["HF_ENDPOINT": "http://127.0.0.1:\(hub.port)", "HF_HUB_CACHE": cache].merging(extra) { $1 })
        o.chunkBytes = 64 * 1024
        o.progressBar = false
        o.log = { _ in }
        return o
    }

    func cache(_ name: String) -> String {
        let d = FileManager.default.temporaryDirectory.appendingPathComponent("pairranker-hub-\(getpid())-\(name)").path
        try? FileManager.default.removeItem(atPath: d)
        return d
    }

    @Test("download fills the standard cache layout; a second run uses the cache")
    func download() throws {
        let hub = try FakeHub(files: Self.files)
        defer { hub.stop() }
        let c = cache("basic")
        let snap = try HubDownloader(options: options(hub, cache: c)).download(repo: "test-org/tiny")
        #expect(snap == c + "/models--test-org--tiny/snapshots/" + hub.commit)
        #expect(try String(contentsOfFile: c + "/models--test-org--tiny/refs/main", encoding: .utf8) == hub.commit)
        for (name, data) in Self.files {
            let link = try FileManager.default.destinationOfSymbolicLink(atPath: snap + "/" + name)
            #expect(link.hasPrefix("../../blobs/"), "\(name) is a relative symlink into blobs")
            #expect(try Data(contentsOf: URL(fileURLWithPath: snap + "/" + name)) == data, "\(name)")
        }
        let before = hub.requests.count
        #expect(try HubDownloader(options: options(hub, cache: c)).download(repo: "test-org/tiny") == snap)
        #expect(hub.requests.count == before + 1, "only the metadata is fetched again")
        #expect(HubDownloader(options: options(hub, cache: c)).cachedSnapshot(repo: "test-org/tiny") == snap)
        let offline = try HubDownloader(options: options(hub, cache: c, env: ["HF_HUB_OFFLINE": "1"])).download(repo: "test-org/tiny")
        #expect(offline == snap)
        #expect(throws: HubError.self) {
            try HubDownloader(options: options(hub, cache: cache("offline-empty"), env: ["HF_HUB_OFFLINE": "1"])).download(repo: "test-org/tiny")
        }
    }

    @Test("a connection dropped mid-file and an interrupted run both resume")
    func resume() throws {
        let hub = try FakeHub(files: Self.files)
        defer { hub.stop() }
        hub.dropOnce = ["model.safetensors"]
        let c = cache("resume")
        var logs: [String] = []
        var o = options(hub, cache: c)
        o.log = { logs.append($0) }
        // An earlier run left the first 100,000 bytes of the weights.
        let weights = Self.files["model.safetensors"]!
        let blob = c + "/models--test-org--tiny/blobs/" + FakeHub.sha256(weights)
        try FileManager.default.createDirectory(atPath: c + "/models--test-org--tiny/blobs", withIntermediateDirectories: true)
        try weights.prefix(100_000).write(to: URL(fileURLWithPath: blob + ".incomplete"))
        let snap = try HubDownloader(options: o).download(repo: "test-org/tiny")
        #expect(try Data(contentsOf: URL(fileURLWithPath: snap + "/model.safetensors")) == weights)
        #expect(logs.contains { $0.contains("resuming at byte 100000") }, "\(logs)")
        #expect(logs.contains { $0.contains("retrying") }, "\(logs)")
        #expect(logs.contains { $0.contains("model.safetensors") && $0.contains("SHA-256 verified") })
        #expect(!FileManager.default.fileExists(atPath: blob + ".incomplete"))
    }

    @Test("a corrupted blob is detected and deleted; 404 and 401 are clear errors")
    func failures() throws {
        let hub = try FakeHub(files: Self.files)
        defer { hub.stop() }
        hub.corrupt = ["model.safetensors"]
        let c = cache("corrupt")
        do {
            _ = try HubDownloader(options: options(hub, cache: c)).download(repo: "test-org/tiny")
            Issue.record("a corrupted blob must not be accepted")
        } catch let e as HubError {
            #expect(e.message.contains("SHA-256 mismatch"), "\(e)")
        }
        let blobs = (try? FileManager.default.contentsOfDirectory(atPath: c + "/models--test-org--tiny/blobs")) ?? []
        #expect(!blobs.contains { $0.hasSuffix(".incomplete") } && !blobs.contains(FakeHub.sha256(Self.files["model.safetensors"]!)))
        do { _ = try HubDownloader(options: options(hub, cache: c)).download(repo: "test-org/missing"); Issue.record("404") } catch let e as HubError {
            #expect(e.message.contains("not found"), "\(e)")
        }
        do { _ = try HubDownloader(options: options(hub, cache: c)).download(repo: "test-org/private"); Issue.record("401") } catch let e as HubError {
            #expect(e.message.contains("HF_TOKEN"), "\(e)")
        }
        hub.corrupt = []
        let ok = try HubDownloader(options: options(hub, cache: cache("token"), env: ["HF_TOKEN": hub.token])).download(repo: "test-org/private")
        #expect(FileManager.default.fileExists(atPath: ok + "/model.safetensors"))
    }

    @Test("SHA-256 matches known vectors")
    func sha() {
        var a = SHA256(); a.update(Array("abc".utf8))
        #expect(a.finalize() == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        var b = SHA256(); b.update([UInt8]())
        #expect(b.finalize() == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        var c = SHA256()
        for _ in 0..<1000 { c.update(Array(repeating: UInt8(ascii: "a"), count: 1000)) }
        #expect(c.finalize() == "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0")
    }
}
