// COMPILE-ONLY STAND-IN for LiteRT 2.x (com.google.ai.edge.litert), see ../../../../../README.md.
// Signatures mirror the published Kotlin API (v2.2.0 Common.kt); bodies are not LiteRT's.
// Never packaged: it sits outside the app's source sets.
package com.google.ai.edge.litert

abstract class JniHandle internal constructor(internal val handle: Long) : AutoCloseable {
    protected fun assertNotDestroyed() {
        throw UnsupportedOperationException("compile-only LiteRT stand-in")
    }

    protected abstract fun destroy()

    final override fun close() {
        throw UnsupportedOperationException("compile-only LiteRT stand-in")
    }
}

enum class Accelerator private constructor(val value: Int) {
    NONE(0),
    CPU(1),
    GPU(2),
    NPU(3),
}
