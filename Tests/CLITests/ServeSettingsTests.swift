import ArgumentParser
import Foundation
import HTTPServer
import PairEngine
import PairRanker
import Tensors
import TestSupport
import Testing

@testable import RankerHTTP
@testable import RankerService
@testable import pairranker

/// `serve` settings: one declaration each, resolved flag > PAIRRANKER_* > default, every value
/// checked against its range before anything starts.
@Suite struct ServeSettingsTests {
    static func resolve(_ flags: [String: String] = [:], env: [String: String] = [:]) throws(ServeSettingError) -> ServeSettings {
        try ServeSettings.resolve(flags: flags, environment: env, cpus: 3)
    }

    /// The message of the refusal, or nil when the value was accepted.
    static func refusal(_ flags: [String: String] = [:], env: [String: String] = [:]) -> String? {
        do { _ = try resolve(flags, env: env); return nil } catch { return error.message }
    }

    /// A valid value for `s` that differs from its default, and a second one.
    static func values(_ s: ServeSetting) -> (String, String) {
        switch s.kind {
        case .text, .optionalText: return ("from-a", "from-b")
        case let .integer(_, r): return (String(r.upperBound), String(r.upperBound - 1))
        case let .number(_, r, _): return (String(r.upperBound), String(r.upperBound / 2))
        case let .choice(_, words): let other = words.first { $0 != s.defaultText }!; return (other, other)
        }
    }

    @Test("defaults are the library defaults, declared once")
    func defaults() throws {
        let s = try Self.resolve()
        #expect(s == ServeSettings(cpus: 3))
        #expect(s.threads == 3)
        #expect(s.serverConfig == ServerConfig(), "serve's defaults are the HTTP server's")
        #expect(s.serviceLimits == ServiceLimits())
        #expect(s.engineConfig == BatchingEngine.Config())
        #expect(s.appSettings.requestTimeout == RankerHTTPApp.Settings().requestTimeout)
        #expect(s.appSettings.maxBodyBytes == s.serverConfig.limits.maxBodyBytes, "an inflated body has the body limit")
        #expect(s.apiKey == nil && s.weights == nil && s.model == "llm-blender/pair-ranker")
        #expect(ServeSettings(cpus: 100_000).threads == ServeSetting.maxThreads, "a default is always inside its own range")
        #expect(ServeSettings(cpus: 0).threads == 1)
    }

    @Test("every setting: the flag wins over the variable, which wins over the default")
    func precedence() throws {
        #expect(ServeSetting.all.count == 27)
        for s in ServeSetting.all {
            let (a, b) = Self.values(s)
            if case .choice = s.kind {
                // A choice of two words has one value besides the default: the flag's default
                // must still win over the variable's other word.
                let defaults = try Self.resolve(), word = s.defaultText!
                #expect(s.json(of: try Self.resolve([s.flag: a])) == .string(a), "\(s.flag): the flag is used")
                #expect(s.json(of: try Self.resolve(env: [s.env: a])) == .string(a), "\(s.flag): the variable is used")
                #expect(try Self.resolve([s.flag: word], env: [s.env: a]) == defaults, "\(s.flag): the flag wins")
                #expect(try Self.resolve(env: [s.env: ""]) == defaults, "\(s.flag): an empty variable is unset")
                continue
            }
            let defaults = try Self.resolve()
            let fromFlag = try Self.resolve([s.flag: a])
            let fromEnv = try Self.resolve(env: [s.env: b])
            let both = try Self.resolve([s.flag: a], env: [s.env: b])
            let emptyEnv = try Self.resolve(env: [s.env: ""])
            #expect(s.json(of: fromFlag) != s.json(of: defaults), "\(s.flag): the flag is used")
            #expect(fromEnv != defaults && fromEnv != fromFlag, "\(s.flag): the variable is used")
            #expect(both == fromFlag, "\(s.flag): the flag wins")
            #expect(emptyEnv == defaults, "\(s.flag): an empty variable is unset")
            // Only this setting changed.
            for other in ServeSetting.all where other.flag != s.flag {
                #expect(other.json(of: fromFlag) == other.json(of: defaults), "\(s.flag) changed \(other.flag)")
            }
        }
        #expect(try Self.resolve(["port": "9000"], env: ["PAIRRANKER_PORT": "70000"]).port == 9000,
                "a bad variable under a good flag is never read")
    }

    @Test("every numeric setting: both ends of its range are accepted, just past them and non-numbers refused, from a flag or a variable")
    func ranges() throws {
        var checked = 0
        for s in ServeSetting.all {
            var good: [String] = [], bad: [String] = ["abc", "", " 1", "1 ", "0x"]
            switch s.kind {
            case .text, .optionalText:
                #expect(Self.refusal([s.flag: ""])?.contains("--\(s.flag)= is empty") == true, "\(s.flag)")
                continue
            case let .choice(_, words):
                good = words
                bad += words.map { $0.uppercased() } + words.map { " " + $0 } + ["int4", "fp16", "bf16"]
            case let .integer(_, r):
                good = [String(r.lowerBound), String(r.upperBound)]
                bad += [String(r.lowerBound - 1), String(r.upperBound + 1), "1.5", "1e3", "nan", "99999999999999999999", "-9223372036854775809"]
            case let .number(_, r, _):
                good = [String(r.lowerBound), String(r.upperBound), "\(r.lowerBound)", "\((r.lowerBound + r.upperBound) / 2)"]
                bad += [String(r.upperBound.nextUp), String(r.upperBound * 2), "-1", "nan", "-nan", "inf", "-inf", "infinity", "1e300", "1e12"]
                if r.lowerBound > 0 { bad += ["0", String(r.lowerBound.nextDown)] } else { bad += [String((-r.lowerBound).nextUp * -1), "-0.001"] }
            }
            for v in good {
                #expect(Self.refusal([s.flag: v]) == nil, "--\(s.flag)=\(v) is allowed")
                #expect(Self.refusal(env: [s.env: v]) == nil, "\(s.env)=\(v) is allowed")
            }
            for v in bad {
                let viaFlag = Self.refusal([s.flag: v])
                #expect(viaFlag?.hasPrefix("--\(s.flag)=\(v) ") == true, "--\(s.flag)=\(v): \(viaFlag ?? "accepted")")
                #expect(viaFlag?.contains(s.allowed) == true, "the message says what is allowed: \(viaFlag ?? "")")
                if !v.isEmpty {
                    let viaEnv = Self.refusal(env: [s.env: v])
                    #expect(viaEnv?.hasPrefix("\(s.env)=\(v) ") == true, "\(s.env)=\(v): \(viaEnv ?? "accepted")")
                }
                checked += 1
            }
        }
        #expect(checked > 250, "every bad value was tried: \(checked)")
    }

    @Test("values that once started a broken server are refused by name, through the real argument parser",
          arguments: [
              (["--request-timeout", "-1"], "--request-timeout=-1 is out of range", "0.001...86400"),
              (["--request-timeout", "1e12"], "--request-timeout=1e12 is out of range", "0.001...86400"),
              (["--request-timeout", "inf"], "--request-timeout=inf is not finite", "0.001...86400"),
              (["--request-timeout=nan"], "--request-timeout=nan is not finite", "0.001...86400"),
              (["--max-wait-ms", "1e300"], "--max-wait-ms=1e300 is out of range", "0...60000"),
              (["--read-timeout", "nan"], "--read-timeout=nan is not finite", "0.001...86400"),
              (["--port", "70000"], "--port=70000 is out of range", "0...65535"),
              (["--port", "-1"], "--port=-1 is out of range", "0...65535"),
              (["--max-connections", "0"], "--max-connections=0 is out of range", "1...100000"),
              (["--threads", "0"], "--threads=0 is out of range", "1...1024"),
              (["--backlog", "4294967297"], "--backlog=4294967297 is out of range", "1...65535"),
          ])
    func parsed(args: [String], message: String, range: String) {
        do {
            _ = try Serve.parse(args)
            Issue.record("\(args) was accepted")
        } catch {
            let text = Serve.message(for: error)
            #expect(text.contains(message) && text.contains(range), "\(text)")
            #expect(Serve.exitCode(for: error) == ExitCode(64))
        }
    }

    @Test("every setting has its flag, and its flag reaches resolution")
    func everyFlag() throws {
        var args: [String] = []
        for s in ServeSetting.all { args += ["--\(s.flag)", Self.values(s).0] }
        let cmd = try Serve.parse(args)
        #expect(Set(cmd.flags.keys) == Set(ServeSetting.all.map(\.flag)))
        let resolved = try cmd.settings(environment: [:])
        for s in ServeSetting.all { #expect(s.json(of: resolved) != s.json(of: ServeSettings(cpus: 3)), "\(s.flag)") }
        let help = Serve.helpMessage()
        for s in ServeSetting.all {
            #expect(help.contains("--\(s.flag)") && help.contains(s.env), "--help names --\(s.flag) and \(s.env)")
        }
        #expect(throws: ServeSettingError.self) { _ = try ServeSettings.resolve(flags: ["no-such": "1"], environment: [:], cpus: 1) }
    }

    @Test("the start-up log lists every setting and never the API key")
    func logFields() throws {
        let s = try Self.resolve(["api-key": "sekrit-123", "max-wait-ms": "7.5"])
        let fields = s.logFields
        #expect(fields.map(\.0) == ServeSetting.all.map(\.logName))
        let text = JSON.object(fields).text
        #expect(!text.contains("sekrit"))
        #expect(text.contains(#""api_key":"set""#) && text.contains(#""max_wait_ms":7.5"#), "\(text)")
        #expect(JSON.object(try Self.resolve().logFields).text.contains(#""api_key":"off""#))
    }

    @Test("the executable exits 64 on a bad setting, before loading the model or binding a port")
    func executable() throws {
        for (args, env, want) in [
            (["--request-timeout", "-1"], [String: String](), "--request-timeout=-1 is out of range"),
            ([], ["PAIRRANKER_MAX_WAIT_MS": "1e300"], "PAIRRANKER_MAX_WAIT_MS=1e300 is out of range"),
            ([], ["PAIRRANKER_READ_TIMEOUT": "nan"], "PAIRRANKER_READ_TIMEOUT=nan is not finite"),
        ] {
            // A model that does not exist: had the setting been accepted, loading would fail (exit 1).
            let (status, _, text) = try Support.run(["serve", "--model", "/nonexistent/model", "--port", "0"] + args,
                                                    stdin: "", environment: env)
            #expect(status == 64, "\(args) \(env): \(text)")
            #expect(text.contains(want), "\(text)")
            #expect(!text.contains(#""msg":"config""#) && !text.contains("model.load_failed"), "nothing started: \(text)")
        }
    }
}

extension ServeSettingsTests {
    @Test("an address that cannot be listened on exits 1 naming --host and --port, before loading the model")
    func cannotListen() throws {
        let (status, _, text) = try Support.run(["serve", "--model", "/nonexistent/model", "--host", "999.1.1.1", "--port", "0"],
                                                stdin: "")
        #expect(status == 1, "\(text)")
        #expect(text.contains("--host 999.1.1.1 --port 0: cannot listen"), "\(text)")
        #expect(!text.contains("model.load_failed"), "\(text)")
    }
}

/// `/info` names what runs: the precision and, per precision, its kernel.
@Suite struct ServeInfoTests {
    @Test("/info names the fp32 kernel under fp32 and the int8 kernel under int8, the other null, and attention's kernel under both")
    func kernels() throws {
        let settings = try ServeSettings.resolve(flags: [:], environment: [:], cpus: 2)
        let fp32 = Serve.info(Support.model, settings: settings)
        #expect(fp32["precision"] == .string("fp32"))
        #expect(fp32["fp32_kernel"] == .string(Support.model.floatKernel!.rawValue))
        #expect(Support.model.floatKernel == Tensors.FloatKernel.best)
        #expect(fp32["int8_kernel"] == .null)
        #expect(fp32["attention_kernel"] == .string(Support.model.floatKernel!.rawValue))
        guard let kernel = Tensors.Int8Kernel.best else { return }
        let int8 = Serve.info(try PairRankerModel(path: Support.modelDir, precision: .int8(kernel)), settings: settings)
        #expect(int8["precision"] == .string("int8"))
        #expect(int8["int8_kernel"] == .string(kernel.rawValue))
        #expect(int8["fp32_kernel"] == .null)
        #expect(int8["attention_kernel"] == .string(Tensors.FloatKernel.best.rawValue))
    }
}
