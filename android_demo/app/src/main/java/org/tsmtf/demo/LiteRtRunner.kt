package org.tsmtf.demo

import android.content.res.AssetManager
import com.google.ai.edge.litert.Accelerator
import com.google.ai.edge.litert.CompiledModel
import com.google.ai.edge.litert.LiteRtException
import com.google.ai.edge.litert.TensorBuffer
import com.google.ai.edge.litert.TensorType
import org.tsmtf.demo.core.DType
import org.tsmtf.demo.core.Sidecar
import org.tsmtf.demo.core.TensorRunner

/** Which accelerator the user asked for; LiteRT may still run some or all ops on the CPU. */
enum class AcceleratorChoice(val label: String) {
    CPU("CPU (XNNPACK)"),
    GPU("GPU, CPU fallback (LiteRT may run parts or all of it on the CPU)"),
}

/**
 * The streaming model on LiteRT's `CompiledModel`: one input buffer per input name (image and
 * every cache) and one output buffer per output name, created by name and run with
 * `run(Map, Map)`, so nothing depends on tensor order. Names, dtypes and quantization come
 * from the sidecar because CompiledModel exposes none of them.
 */
class LiteRtRunner private constructor(
    private val model: CompiledModel,
    private val inputs: Map<String, TensorBuffer>,
    private val outputs: Map<String, TensorBuffer>,
) : TensorRunner, AutoCloseable {

    override fun writeFloat(name: String, values: FloatArray) = buffer(inputs, name, "input").writeFloat(values)
    override fun writeInt8(name: String, values: ByteArray) = buffer(inputs, name, "input").writeInt8(values)
    override fun readFloat(name: String): FloatArray = buffer(outputs, name, "output").readFloat()
    override fun readInt8(name: String): ByteArray = buffer(outputs, name, "output").readInt8()

    override fun run() = model.run(inputs, outputs)

    override fun close() {
        for (b in inputs.values) b.close()
        for (b in outputs.values) b.close()
        model.close()
    }

    private fun buffer(map: Map<String, TensorBuffer>, name: String, kind: String): TensorBuffer =
        map[name] ?: throw IllegalArgumentException("The model has no $kind '$name' in its buffers")

    companion object {
        /**
         * Compiles [assetName] for [accelerator] with [threads] CPU threads and creates every
         * buffer by name. Throws [LiteRtException] (see Logcat tag `litert` for the cause).
         */
        @Throws(LiteRtException::class)
        fun open(assets: AssetManager, assetName: String, sidecar: Sidecar, accelerator: AcceleratorChoice, threads: Int): LiteRtRunner {
            val options = when (accelerator) {
                AcceleratorChoice.CPU -> CompiledModel.Options(Accelerator.CPU)
                AcceleratorChoice.GPU -> CompiledModel.Options(Accelerator.GPU, Accelerator.CPU)
            }
            options.cpuOptions = CompiledModel.CpuOptions(numThreads = threads)
            val model = CompiledModel.create(assets, assetName, options)
            val inputs = LinkedHashMap<String, TensorBuffer>()
            val outputs = LinkedHashMap<String, TensorBuffer>()
            try {
                checkType(model.getInputTensorTypeOrNull(sidecar.input.name), sidecar.input.dtype, sidecar.input.shape, "input '${sidecar.input.name}'")
                inputs[sidecar.input.name] = model.createInputBuffer(sidecar.input.name)
                outputs[sidecar.output.name] = model.createOutputBuffer(sidecar.output.name)
                for (s in sidecar.states) {
                    checkType(model.getInputTensorTypeOrNull(s.input), s.dtype, s.shape, "cache input '${s.input}'")
                    inputs[s.input] = model.createInputBuffer(s.input)
                    outputs[s.output] = model.createOutputBuffer(s.output)
                }
            } catch (e: Exception) {
                for (b in inputs.values + outputs.values) b.close()
                model.close()
                throw e
            }
            return LiteRtRunner(model, inputs, outputs)
        }

        /** The tensor's type, or null for dtypes the Kotlin API cannot describe (uint8). */
        private fun CompiledModel.getInputTensorTypeOrNull(name: String): TensorType? = try {
            getInputTensorType(name)
        } catch (e: LiteRtException) {
            if (e.message?.contains("Unsupported element type") == true) null else throw e
        }

        /** The model and its sidecar must agree, else the sidecar belongs to another model. */
        private fun checkType(type: TensorType?, dtype: DType, shape: List<Int>, what: String) {
            val fix = "the sidecar does not match the model: import the .tflite and its .json together (import_model.sh)"
            if (type == null) {
                if (dtype != DType.UINT8) throw IllegalStateException("$what has a type LiteRT cannot read, the sidecar says ${dtype.jsonName}: $fix")
                return
            }
            val expected = when (dtype) {
                DType.FLOAT32 -> TensorType.ElementType.FLOAT
                DType.INT8 -> TensorType.ElementType.INT8
                DType.UINT8 -> null
            }
            if (type.elementType != expected) throw IllegalStateException("$what is ${type.elementType} in the model, ${dtype.jsonName} in the sidecar: $fix")
            val dims = type.layout?.dimensions
            if (dims != null && dims != shape) throw IllegalStateException("$what has shape $dims in the model, $shape in the sidecar: $fix")
        }
    }
}
