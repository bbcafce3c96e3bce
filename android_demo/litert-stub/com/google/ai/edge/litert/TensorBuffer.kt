// COMPILE-ONLY STAND-IN for LiteRT 2.x (com.google.ai.edge.litert), see ../../../../../README.md.
// Signatures mirror the published Kotlin API (v2.2.0 TensorBuffer.kt). Never packaged.
package com.google.ai.edge.litert

class TensorBuffer internal constructor(handle: Long) : JniHandle(handle) {
    @Throws(LiteRtException::class) fun writeInt(data: IntArray): Unit = throw UnsupportedOperationException("stand-in")
    @Throws(LiteRtException::class) fun writeFloat(data: FloatArray): Unit = throw UnsupportedOperationException("stand-in")
    @Throws(LiteRtException::class) fun writeInt8(data: ByteArray): Unit = throw UnsupportedOperationException("stand-in")
    @Throws(LiteRtException::class) fun writeBoolean(data: BooleanArray): Unit = throw UnsupportedOperationException("stand-in")
    @Throws(LiteRtException::class) fun writeLong(data: LongArray): Unit = throw UnsupportedOperationException("stand-in")
    @Throws(LiteRtException::class) fun readInt(): IntArray = throw UnsupportedOperationException("stand-in")
    @Throws(LiteRtException::class) fun readFloat(): FloatArray = throw UnsupportedOperationException("stand-in")
    @Throws(LiteRtException::class) fun readInt8(): ByteArray = throw UnsupportedOperationException("stand-in")
    @Throws(LiteRtException::class) fun readBoolean(): BooleanArray = throw UnsupportedOperationException("stand-in")
    @Throws(LiteRtException::class) fun readLong(): LongArray = throw UnsupportedOperationException("stand-in")

    override fun destroy() {}
}
