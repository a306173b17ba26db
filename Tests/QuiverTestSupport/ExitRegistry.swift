import Foundation

/// Test resources (PostgreSQL clusters, network namespaces) still alive when the process exits —
/// a test that failed before its `defer`, or a run cut short — destroyed at exit, the registries
/// in the reverse order of their first use (a cluster before the namespace it runs in).
final class ExitRegistry<Resource: AnyObject>: @unchecked Sendable {
    private let lock = NSLock()
    // Guarded by `lock`.
    private var resources: [Resource] = []

    /// A registry whose resources are each handed to `destroy` at exit.
    init(destroy: @escaping @Sendable (Resource) -> Void) {
        ExitActions.register { [self] in
            for resource in lock.withLock({ resources }) { destroy(resource) }
        }
    }

    /// Destroys `resource` at exit unless it is removed first.
    func add(_ resource: Resource) { lock.withLock { resources.append(resource) } }

    /// Forgets `resource` (destroyed by its owner).
    func remove(_ resource: Resource) { lock.withLock { resources.removeAll { $0 === resource } } }
}

/// One `atexit` handler running every registry's clean-up, last registered first.
private enum ExitActions {
    private static let lock = NSLock()
    nonisolated(unsafe) private static var actions: [@Sendable () -> Void] = []
    private static let installed: Void = { atexit { ExitActions.runAll() } }()

    static func register(_ action: @escaping @Sendable () -> Void) {
        installed
        lock.withLock { actions.append(action) }
    }

    static func runAll() {
        for action in lock.withLock({ actions }).reversed() { action() }
    }
}
