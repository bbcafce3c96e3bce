package org.tsmtf.demo.core

/**
 * One camera frame -> the model's image input, exactly as the Python runtime
 * (`tsm_tf.runtime.preprocess`) does it:
 * 1. resize so the short side is `resize_short_side` (long side truncated);
 * 2. centre crop (offsets rounded half to even, as Python's `round`);
 * 3. `x = (pixel * float32(1/255) - mean) / std` in float32;
 * 4. for int8/uint8 inputs `q = clip(roundHalfAway(x / scale) + zero_point)`.
 * Steps 3-4 depend only on the pixel value and channel, so they are a 256 x 3 table.
 */
class Preprocessor(val input: InputSpec, val spec: PreprocessSpec) {
    /** Normalised values, `[value * 3 + channel]`. */
    val floatTable = FloatArray(256 * 3)

    /** Raw bytes of the quantized values (int8 or uint8), `[value * 3 + channel]`; empty for float input. */
    val byteTable: ByteArray

    init {
        val inv255 = (1.0 / 255.0).toFloat()
        for (v in 0 until 256) for (c in 0 until 3) {
            floatTable[v * 3 + c] = (v.toFloat() * inv255 - input.mean[c].toFloat()) / input.std[c].toFloat()
        }
        val q = input.quantization
        byteTable = if (input.dtype.isQuantized && q != null) {
            ByteArray(256 * 3) { Quant.toByte(Quant.quantize(floatTable[it], q, input.dtype)) }
        } else {
            ByteArray(0)
        }
    }

    /** Number of values in the image input, `crop_h * crop_w * 3`. */
    val numElements: Int get() = spec.cropHeight * spec.cropWidth * 3

    /** Steps 1-2: any-size RGB frame -> the `crop_h x crop_w` RGB crop. */
    fun crop(frame: RgbImage): RgbImage {
        val (w, h) = shortSideSize(frame.width, frame.height, spec.resizeShortSide)
        val resized = Resize.resize(frame, w, h)
        val x = maxOf(Math.rint((w - spec.cropWidth) / 2.0).toInt(), 0)
        val y = maxOf(Math.rint((h - spec.cropHeight) / 2.0).toInt(), 0)
        return resized.crop(x, y, spec.cropWidth, spec.cropHeight)
    }

    /** Steps 3-4 for a float32 input, into [out] (`[H, W, 3]` flattened). */
    fun toFloat(crop: RgbImage, out: FloatArray = FloatArray(numElements)): FloatArray {
        checkCrop(crop, out.size)
        val d = crop.data
        for (i in d.indices) out[i] = floatTable[(d[i].toInt() and 0xFF) * 3 + i % 3]
        return out
    }

    /** Steps 3-4 for an int8/uint8 input: raw bytes as `TensorBuffer.writeInt8` takes them. */
    fun toBytes(crop: RgbImage, out: ByteArray = ByteArray(numElements)): ByteArray {
        check(byteTable.isNotEmpty()) { "Input '${input.name}' is ${input.dtype.jsonName}, not quantized: use toFloat" }
        checkCrop(crop, out.size)
        val d = crop.data
        for (i in d.indices) out[i] = byteTable[(d[i].toInt() and 0xFF) * 3 + i % 3]
        return out
    }

    private fun checkCrop(crop: RgbImage, size: Int) {
        require(crop.width == spec.cropWidth && crop.height == spec.cropHeight) {
            "Crop is ${crop.width}x${crop.height}, the model takes ${spec.cropWidth}x${spec.cropHeight}"
        }
        require(size == numElements) { "Output holds $size values, the input '${input.name}' has $numElements" }
    }

    companion object {
        /** `(w, h)` with the short side [size], the long side truncated (torchvision's rule). */
        fun shortSideSize(width: Int, height: Int, size: Int): Pair<Int, Int> =
            if (width <= height) Pair(size, (size.toLong() * height / width.toDouble()).toInt())
            else Pair((size.toLong() * width / height.toDouble()).toInt(), size)
    }
}
