import Testing
@testable import VectorIndex

