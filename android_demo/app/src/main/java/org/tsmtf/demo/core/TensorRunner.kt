package org.tsmtf.demo.core

/**
 * A model run with named tensors, the shape of LiteRT's `CompiledModel.run(Map, Map)`: inputs
 * are written and outputs read by signature name, never by position. The app implements it
 * over LiteRT `TensorBuffer`s; JVM tests implement it in plain Kotlin.
 */
interface TensorRunner {
    fun writeFloat(name: String, values: FloatArray)
    fun writeInt8(name: String, values: ByteArray)
    fun readFloat(name: String): FloatArray
    fun readInt8(name: String): ByteArray

    /** Runs the model on the current inputs, filling the outputs. */
    fun run()
}
