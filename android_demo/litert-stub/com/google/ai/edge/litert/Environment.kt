// COMPILE-ONLY STAND-IN for LiteRT 2.x (com.google.ai.edge.litert), see ../../../../../README.md.
// Signatures mirror the published Kotlin API (v2.2.0 Environment.kt; the Context factory is
// 2.2.0+); NPU-provider factories are left out. Never packaged.
package com.google.ai.edge.litert

import android.content.Context

class Environment private constructor(handle: Long) : JniHandle(handle) {
    enum class Option private constructor(val value: Int) {
        CompilerPluginLibraryDir(0),
        DispatchLibraryDir(1),
        SystemRuntimeHandle(23),
    }

    @Throws(LiteRtException::class)
    fun getAvailableAccelerators(): Set<Accelerator> = throw UnsupportedOperationException("stand-in")

    override fun destroy() {}

    companion object {
        @Throws(LiteRtException::class)
        @JvmOverloads
        @JvmStatic
        fun create(options: Map<Option, String> = mapOf()): Environment = throw UnsupportedOperationException("stand-in")

        @Throws(LiteRtException::class)
        @JvmOverloads
        @JvmStatic
        fun create(context: Context, options: Map<Option, String> = mapOf(), enableCompilerCache: Boolean = true): Environment =
            throw UnsupportedOperationException("stand-in")
    }
}
