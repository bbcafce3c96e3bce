package org.tsmtf.demo.core

/** Element types a streaming model's image, logits and caches may have (docs/sidecar.md). */
enum class DType(val jsonName: String, val bytes: Int) {
    FLOAT32("float32", 4), INT8("int8", 1), UINT8("uint8", 1);

    val isQuantized: Boolean get() = this != FLOAT32

    companion object {
        fun of(name: String, where: String): DType = values().firstOrNull { it.jsonName == name }
            ?: throw SidecarException(
                "$where has dtype '$name'; the app feeds float32, int8 or uint8 tensors " +
                    "(LiteRT's Kotlin TensorBuffer has no float16/int16 access): re-export " +
                    "the model with --io int8/uint8/float32.")
    }
}

/** Affine quantization `real = scale * (q - zeroPoint)`. */
data class QuantParams(val scale: Double, val zeroPoint: Int)

data class InputSpec(
    val name: String,
    val shape: List<Int>,
    val dtype: DType,
    val quantization: QuantParams?,
    val mean: List<Double>,
    val std: List<Double>,
)

data class PreprocessSpec(val resizeShortSide: Int, val cropHeight: Int, val cropWidth: Int)

data class OutputSpec(val name: String, val shape: List<Int>, val dtype: DType, val quantization: QuantParams?)

data class StateSpec(
    val input: String,
    val output: String,
    val shape: List<Int>,
    val dtype: DType,
    val inputQuantization: QuantParams?,
    val outputQuantization: QuantParams?,
    val requantize: Boolean,
) {
    val numElements: Int get() = shape.fold(1) { a, b -> a * b }
}

data class TemporalSpec(val trainFrameStride: Double, val datasetFps: Double?, val trainStrideSeconds: Double?)

class SidecarException(message: String) : IllegalArgumentException(message)

/**
 * The converter's model sidecar (format `tsm_tf.sidecar`, version 1, see docs/sidecar.md):
 * what CompiledModel cannot tell the app (tensor names, quantization, labels, preprocessing).
 */
data class Sidecar(
    val modelName: String,
    val mode: String,
    val numClasses: Int,
    val framesPerStep: Int,
    val labels: List<String>,
    val input: InputSpec,
    val preprocess: PreprocessSpec,
    val output: OutputSpec,
    val states: List<StateSpec>,
    val temporal: TemporalSpec,
    val precision: String,
) {
    companion object {
        const val FORMAT = "tsm_tf.sidecar"
        const val VERSION = 1

        /** Parses and validates sidecar JSON read from [source] (a file or asset name). */
        fun parse(text: String, source: String = "sidecar"): Sidecar =
            Fields(Json.parse(text, source), source, "").toSidecar()
    }
}

/** Typed access to one JSON object, with errors naming the file and the field path. */
private class Fields(raw: Any?, val source: String, val path: String) {
    val map: Map<*, *> = raw as? Map<*, *> ?: fail("must be a JSON object")

    fun fail(what: String, key: String? = null): Nothing {
        val where = listOfNotNull(path.ifEmpty { null }, key).joinToString(".")
        throw SidecarException("$source: ${if (where.isEmpty()) "" else "`$where` "}$what " +
            "(see docs/sidecar.md; re-export with converters/to_tflite.py)")
    }

    fun has(key: String): Boolean = map[key] != null
    fun obj(key: String): Fields =
        Fields(map[key] ?: fail("is missing", key), source, if (path.isEmpty()) key else "$path.$key")
    fun string(key: String): String = map[key] as? String ?: fail("must be a string", key)
    fun number(key: String): Double = map[key] as? Double ?: fail("must be a number", key)
    fun optNumber(key: String): Double? = if (map[key] == null) null else number(key)
    fun int(key: String): Int {
        val d = number(key)
        if (d != Math.floor(d) || Math.abs(d) > Int.MAX_VALUE) fail("must be an integer", key)
        return d.toInt()
    }
    fun list(key: String): List<*> = map[key] as? List<*> ?: fail("must be a list", key)
    fun ints(key: String): List<Int> = list(key).map {
        val d = it as? Double ?: fail("must be a list of integers", key)
        if (d != Math.floor(d) || d < 0) fail("must be a list of non-negative integers", key)
        d.toInt()
    }
    fun doubles(key: String): List<Double> = list(key).map { it as? Double ?: fail("must be a list of numbers", key) }
    fun quant(key: String): QuantParams? {
        if (map[key] == null) return null
        val q = obj(key)
        val scale = q.number("scale")
        if (!(scale > 0.0)) q.fail("must be > 0", "scale")
        return QuantParams(scale, q.int("zero_point"))
    }

    fun toSidecar(): Sidecar {
        if (map["format"] != Sidecar.FORMAT) fail("must be '${Sidecar.FORMAT}'", "format")
        if (int("version") != Sidecar.VERSION) fail("is not supported by this app (it reads ${Sidecar.VERSION})", "version")
        val model = obj("model")
        val mode = model.string("mode")
        if (mode != "streaming") {
            model.fail("is '$mode': the app streams one frame at a time and needs a streaming model " +
                "(converters/to_tflite.py --mode streaming)", "mode")
        }
        val numClasses = model.int("num_classes")
        val framesPerStep = if (model.has("frames_per_step")) model.int("frames_per_step") else 1
        if (framesPerStep != 1) model.fail("is $framesPerStep: the app feeds one frame per call; convert with one frame per step", "frames_per_step")
        val labels = list("labels").map { it as? String ?: fail("must be a list of strings", "labels") }
        if (labels.size != numClasses) fail("has ${labels.size} entries but model.num_classes is $numClasses", "labels")

        val inp = obj("input")
        val inShape = inp.ints("shape")
        if (inShape.size != 4 || inShape[0] != 1 || inShape[3] != 3) inp.fail("must be [1, H, W, 3] for a one-frame streaming model", "shape")
        val inDtype = DType.of(inp.string("dtype"), "$source input")
        val inQuant = inp.quant("quantization")
        if (inDtype.isQuantized && inQuant == null) inp.fail("is missing for a ${inDtype.jsonName} input", "quantization")
        if (inp.has("color") && inp.string("color") != "RGB") inp.fail("must be 'RGB'", "color")
        val mean = if (inp.has("mean")) inp.doubles("mean") else IMAGENET_MEAN
        val std = if (inp.has("std")) inp.doubles("std") else IMAGENET_STD
        if (mean.size != 3 || std.size != 3 || std.any { it <= 0.0 }) inp.fail("mean and std must be 3 numbers each, std > 0", "std")
        val input = InputSpec(inp.string("name"), inShape, inDtype, inQuant, mean, std)

        val pre = obj("preprocess")
        val crop = pre.ints("crop")
        if (crop.size != 2) pre.fail("must be [height, width]", "crop")
        if (crop[0] != inShape[1] || crop[1] != inShape[2]) pre.fail("$crop differs from the input's H, W ${inShape.subList(1, 3)}", "crop")
        val resize = pre.int("resize_short_side")
        if (resize < maxOf(crop[0], crop[1])) pre.fail("$resize is smaller than the crop $crop", "resize_short_side")
        if (pre.has("interpolation") && pre.string("interpolation") != "bilinear") pre.fail("must be 'bilinear'", "interpolation")
        val preprocess = PreprocessSpec(resize, crop[0], crop[1])

        val out = obj("output")
        val outShape = out.ints("shape")
        if (outShape.fold(1) { a, b -> a * b } != numClasses) out.fail("$outShape does not hold model.num_classes = $numClasses logits", "shape")
        val outDtype = DType.of(out.string("dtype"), "$source output")
        val outQuant = out.quant("quantization")
        if (outDtype.isQuantized && outQuant == null) out.fail("is missing for a ${outDtype.jsonName} output", "quantization")
        val output = OutputSpec(out.string("name"), outShape, outDtype, outQuant)

        val states = list("states").mapIndexed { i, raw ->
            val s = Fields(raw, source, "states[$i]")
            val dtype = DType.of(s.string("dtype"), "$source states[$i]")
            val inQ = s.quant("input_quantization")
            val outQ = s.quant("output_quantization")
            if (dtype.isQuantized && (inQ == null || outQ == null)) s.fail("a ${dtype.jsonName} cache needs input_quantization and output_quantization")
            val requantize = s.map["requantize"] as? Boolean ?: false
            if (dtype.isQuantized && requantize != (inQ != outQ)) {
                s.fail("requantize is $requantize but the input and output quantization ${if (inQ == outQ) "agree" else "differ"}")
            }
            StateSpec(s.string("input"), s.string("output"), s.ints("shape"), dtype, inQ, outQ, requantize)
        }
        val names = states.map { it.input }
        if (names.toSet().size != names.size) fail("has duplicate input names", "states")
        if (input.name in names || output.name in states.map { it.output }) fail("reuse the image or logits name", "states")

        val t = if (has("temporal")) obj("temporal") else null
        val stride = t?.optNumber("train_frame_stride") ?: 1.0
        if (stride <= 0.0) t?.fail("must be > 0", "train_frame_stride")
        val temporal = TemporalSpec(stride, t?.optNumber("dataset_fps"), t?.optNumber("train_stride_seconds"))
        val precision = if (has("conversion")) (obj("conversion").map["precision"] as? String ?: "") else ""
        val name = model.map["name"] as? String ?: ""
        return Sidecar(name, mode, numClasses, framesPerStep, labels, input, preprocess, output, states, temporal, precision)
    }
}

val IMAGENET_MEAN: List<Double> = listOf(0.485, 0.456, 0.406)
val IMAGENET_STD: List<Double> = listOf(0.229, 0.224, 0.225)
