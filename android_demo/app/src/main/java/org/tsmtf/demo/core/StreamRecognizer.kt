package org.tsmtf.demo.core

/** What one processed frame gives the screen. */
data class Recognition(
    val top: List<Ranked>,
    val smoothedLabel: String,
    val smoothedIndex: Int,
    val smoothedScore: Float,
    val logits: FloatArray,
    /** Wall time of the model run alone, milliseconds. */
    val inferenceMs: Double,
    /** Preprocessing (resize, crop, normalise/quantize), milliseconds. */
    val preprocessMs: Double,
)

/**
 * The streaming recognizer on one [TensorRunner]: preprocess a frame into the image input,
 * run, read (and dequantize) the logits, carry the caches by name, smooth, rank.
 * Not thread-safe: call it from one inference thread.
 */
class StreamRecognizer(val sidecar: Sidecar, private val runner: TensorRunner, smoothing: Smoother) {
    val preprocessor = Preprocessor(sidecar.input, sidecar.preprocess)
    val states = StateCarrier(sidecar.states)
    val labels = Labels(sidecar.labels)
    var smoother: Smoother = smoothing
        set(value) { field = value; value.reset() }

    private val floatInput = if (sidecar.input.dtype.isQuantized) FloatArray(0) else FloatArray(preprocessor.numElements)
    private val byteInput = if (sidecar.input.dtype.isQuantized) ByteArray(preprocessor.numElements) else ByteArray(0)

    init {
        states.reset(runner)
    }

    /** A new stream: zero caches, empty smoothing history. */
    fun reset() {
        states.reset(runner)
        smoother.reset()
    }

    /** Writes [frame] (upright RGB, any size) as the model's image input. */
    fun feed(frame: RgbImage) {
        val crop = preprocessor.crop(frame)
        if (sidecar.input.dtype.isQuantized) runner.writeInt8(sidecar.input.name, preprocessor.toBytes(crop, byteInput))
        else runner.writeFloat(sidecar.input.name, preprocessor.toFloat(crop, floatInput))
    }

    /** Reads the logits output as float32 (dequantized when the model's logits are integers). */
    fun readLogits(): FloatArray {
        val out = sidecar.output
        val q = out.quantization
        val logits = if (out.dtype.isQuantized && q != null) Quant.dequantize(runner.readInt8(out.name), q, out.dtype)
        else runner.readFloat(out.name)
        if (logits.size != sidecar.numClasses) {
            throw IllegalStateException("Output '${out.name}' has ${logits.size} values, the sidecar lists ${sidecar.numClasses} classes")
        }
        return logits
    }

    fun process(frame: RgbImage): Recognition {
        val t0 = System.nanoTime()
        feed(frame)
        val t1 = System.nanoTime()
        runner.run()
        val t2 = System.nanoTime()
        val logits = readLogits()
        states.carry(runner)
        val decision = smoother.update(logits)
        val top = labels.top(softmax(logits), 3)
        return Recognition(top, labels.name(decision.label), decision.label, decision.score, logits,
            (t2 - t1) / 1e6, (t1 - t0) / 1e6)
    }
}
