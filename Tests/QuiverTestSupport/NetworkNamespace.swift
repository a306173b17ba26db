import Foundation

/// A network namespace of this machine joined to the test's own by veth links, for tests of what
/// crosses a network: a server started in it (``PostgresCluster/start(name:namespace:addresses:)``)
/// is reached at a link's ``Link/peer`` address, and ``blackhole(_:_:)`` partitions one link —
/// the namespace's packets to that link's host side are dropped without a word, as across a
/// failed switch (`tc netem` does not run here; a blackhole route does).
///
/// Needs root and iproute2's `ip`; removed by ``destroy()`` or when the test process exits (a
/// namespace left by a killed test process is removed by the next one).
public final class NetworkNamespace: @unchecked Sendable {
    /// One veth link: `host` is this namespace's address, `peer` the namespace's.
    public struct Link: Sendable {
        public let host: String
        public let peer: String
    }

    /// The namespace's name (`quiver-PID-N`).
    public let name: String
    /// The links, in order.
    public let links: [Link]

    private static let prefix = "quiver-"
    nonisolated(unsafe) private static var counter = 0
    private static let lock = NSLock()

    private init(name: String, links: [Link]) {
        self.name = name
        self.links = links
    }

    /// Whether namespaces can be made here: root, and `ip` installed.
    public static var available: Bool {
        geteuid() == 0 && FileManager.default.isExecutableFile(atPath: ip.path)
    }

    /// Creates a namespace with `links` veth links (each a /30 of its own in 10.213–10.220.x.0,
    /// `x` from this process id and a counter, so concurrent test processes do not collide), its
    /// loopback up.
    public static func create(links count: Int) throws(PostgresClusterError) -> NetworkNamespace {
        precondition((1...8).contains(count), "1 to 8 links")
        removeAbandoned()
        let serial = lock.withLock { () -> Int in
            counter += 1
            return counter
        }
        let pid = Int(ProcessInfo.processInfo.processIdentifier)
        let name = "\(prefix)\(pid)-\(serial)"
        // The third octet from the process and the counter; each link in a second octet of its own.
        let octet = (pid &* 7 &+ serial) % 64 * 4
        let links = (0..<count).map { Link(host: "10.\(213 + $0).\(octet).1", peer: "10.\(213 + $0).\(octet).2") }
        let namespace = NetworkNamespace(name: name, links: links)
        do {
            try run(["netns", "add", name])
            try namespace.inside(["link", "set", "lo", "up"])
            for (index, link) in links.enumerated() {
                // Interface names are at most 15 bytes: q, the process id in base 36, the link.
                let tag = String(pid, radix: 36) + String(serial, radix: 36)
                let hostSide = "qh\(tag)\(index)"
                let peerSide = "qp\(tag)\(index)"
                try run(["link", "add", hostSide, "type", "veth", "peer", "name", peerSide])
                try run(["link", "set", peerSide, "netns", name])
                try run(["addr", "add", "\(link.host)/30", "dev", hostSide])
                try run(["link", "set", hostSide, "up"])
                try namespace.inside(["addr", "add", "\(link.peer)/30", "dev", peerSide])
                try namespace.inside(["link", "set", peerSide, "up"])
            }
        } catch {
            namespace.destroy()
            throw error
        }
        Self.registry.add(namespace)
        return namespace
    }

    /// Partitions (true) or heals (false) link `index`: a blackhole route in the namespace for
    /// the link's host address, so what the namespace sends there — a server's answers, its
    /// handshakes — is dropped silently, while what the host sends still arrives.
    public func blackhole(_ index: Int, _ on: Bool) throws(PostgresClusterError) {
        try inside(["route", on ? "add" : "del", "blackhole", "\(links[index].host)/32"])
    }

    /// Deletes the namespace (its veth links go with it).
    public func destroy() {
        _ = try? Self.run(["netns", "del", name])
        Self.registry.remove(self)
    }

    private func inside(_ arguments: [String]) throws(PostgresClusterError) {
        try Self.run(["netns", "exec", name, Self.ip.path] + arguments)
    }

    private static let ip = URL(fileURLWithPath: "/usr/sbin/ip")

    private static func run(_ arguments: [String]) throws(PostgresClusterError) {
        _ = try PostgresCluster.run(ip, arguments, asServerUser: false)
    }

    /// Namespaces of test processes that no longer run.
    private static func removeAbandoned() {
        guard let listing = try? PostgresCluster.run(ip, ["netns", "list"], asServerUser: false) else { return }
        for line in listing.split(separator: "\n") {
            let name = String(line.split(separator: " ").first ?? "")
            guard name.hasPrefix(prefix), let pid = Int32(name.dropFirst(prefix.count).split(separator: "-").first ?? ""),
                pid != ProcessInfo.processInfo.processIdentifier
            else { continue }
            if kill(pid, 0) == 0 || errno == EPERM { continue }
            _ = try? run(["netns", "del", name])
        }
    }

    /// Every namespace this process made, deleted at exit.
    private static let registry = ExitRegistry<NetworkNamespace> { $0.destroy() }
}
