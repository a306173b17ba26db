import Testing
@testable import VectorMath

