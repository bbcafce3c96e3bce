// COMPILE-ONLY STAND-IN for LiteRT 2.x (com.google.ai.edge.litert), see ../../../../../README.md.
// Signatures mirror the published Kotlin API (v2.2.0 Model.kt: CompiledModel, TensorType);
// GpuOptions, QualcommOptions and buffer requirements are left out. Never packaged.
package com.google.ai.edge.litert

import android.content.res.AssetManager

data class TensorType @JvmOverloads constructor(val elementType: ElementType, val layout: Layout? = null) {
    enum class ElementType { INT, FLOAT, INT8, BOOLEAN, INT64 }

    data class Layout @JvmOverloads constructor(val dimensions: List<Int>, val strides: List<Int> = listOf()) {
        @JvmOverloads constructor(dimensions: IntArray, strides: IntArray = intArrayOf()) : this(dimensions.toList(), strides.toList())

        val rank: Int get() = dimensions.size
        val hasStrides: Boolean get() = strides.isNotEmpty()
    }
}

class CompiledModel private constructor(
    handle: Long,
    private val env: Environment,
    private val envManaged: Boolean = false,
) : JniHandle(handle) {
    data class CpuOptions constructor(
        val numThreads: Int? = null,
        val xnnPackFlags: Int? = null,
        val xnnPackWeightCachePath: String? = null,
    )

    class Options constructor(internal val accelerators: Set<Accelerator>) {
        constructor(vararg accelerators: Accelerator) : this(accelerators.toSet())

        var cpuOptions: CpuOptions? = null

        companion object {
            @JvmStatic val CPU = Options(Accelerator.CPU)
        }
    }

    @Throws(LiteRtException::class)
    fun createInputBuffer(inputName: String, signature: String = ""): TensorBuffer = stub()

    @Throws(LiteRtException::class)
    fun createOutputBuffer(outputName: String, signature: String = ""): TensorBuffer = stub()

    @Throws(LiteRtException::class)
    @JvmOverloads
    fun createInputBuffers(signatureIndex: Int = 0): List<TensorBuffer> = stub()

    @Throws(LiteRtException::class)
    fun createInputBuffers(signature: String): List<TensorBuffer> = stub()

    @Throws(LiteRtException::class)
    @JvmOverloads
    fun createOutputBuffers(signatureIndex: Int = 0): List<TensorBuffer> = stub()

    @Throws(LiteRtException::class)
    fun createOutputBuffers(signature: String): List<TensorBuffer> = stub()

    @Throws(LiteRtException::class)
    @JvmOverloads
    fun run(inputs: List<TensorBuffer>, signatureIndex: Int = 0): List<TensorBuffer> = stub()

    @Throws(LiteRtException::class)
    fun run(inputs: List<TensorBuffer>, signature: String): List<TensorBuffer> = stub()

    @Throws(LiteRtException::class)
    @JvmOverloads
    fun run(inputs: List<TensorBuffer>, outputs: List<TensorBuffer>, signatureIndex: Int = 0): Unit = stub()

    @Throws(LiteRtException::class)
    fun run(inputs: List<TensorBuffer>, outputs: List<TensorBuffer>, signature: String): Unit = stub()

    @Throws(LiteRtException::class)
    fun run(inputs: Map<String, TensorBuffer>, outputs: Map<String, TensorBuffer>, signature: String = ""): Unit = stub()

    fun getInputTensorType(inputName: String, signature: String = ""): TensorType = stub()

    fun getOutputTensorType(outputName: String, signature: String = ""): TensorType = stub()

    override fun destroy() {}

    companion object {
        private fun stub(): Nothing = throw UnsupportedOperationException("compile-only LiteRT stand-in")

        @Throws(LiteRtException::class)
        @JvmOverloads
        @JvmStatic
        fun create(
            assetManager: AssetManager,
            assetName: String,
            options: Options = Options.CPU,
            optionalEnv: Environment? = null,
        ): CompiledModel = stub()

        @Throws(LiteRtException::class)
        @JvmOverloads
        @JvmStatic
        fun create(filePath: String, options: Options = Options.CPU, optionalEnv: Environment? = null): CompiledModel = stub()
    }
}
