package org.tsmtf.demo.core

import kotlin.math.abs
import kotlin.math.floor
import kotlin.math.withSign

/**
 * Quantization arithmetic in float32, as the Python runtime (`tsm_tf.runtime.preprocess`)
 * and a float32 runtime on a phone compute it: `q = clip(roundHalfAway(x / scale) + zp)`.
 */
object Quant {
    /** Rounds to nearest, ties away from zero (C `roundf`, TFLite's QUANTIZE), in float32. */
    fun roundHalfAway(x: Float): Float = floor(abs(x) + 0.5f).withSign(x)

    fun range(dtype: DType): IntRange = when (dtype) {
        DType.INT8 -> -128..127
        DType.UINT8 -> 0..255
        DType.FLOAT32 -> throw IllegalArgumentException("float32 is not a quantized type")
    }

    /** float -> the integer value of [dtype] (clipped), every step in float32. */
    fun quantize(x: Float, q: QuantParams, dtype: DType): Int {
        val r = range(dtype)
        val v = roundHalfAway(x / q.scale.toFloat()) + q.zeroPoint.toFloat()
        return when {
            v.isNaN() -> q.zeroPoint.coerceIn(r)
            v < r.first -> r.first
            v > r.last -> r.last
            else -> v.toInt()
        }
    }

    /** `(q - zeroPoint) * scale` in float32. */
    fun dequantize(qValue: Int, q: QuantParams): Float = (qValue.toFloat() - q.zeroPoint.toFloat()) * q.scale.toFloat()

    /** The integer a raw tensor byte holds: int8 is signed, uint8 unsigned. */
    fun byteValue(b: Byte, dtype: DType): Int = if (dtype == DType.UINT8) b.toInt() and 0xFF else b.toInt()

    /** Raw tensor byte of an integer already in [dtype]'s range. */
    fun toByte(v: Int): Byte = v.toByte()

    /** Dequantizes a raw int8/uint8 tensor (as `TensorBuffer.readInt8` returns it). */
    fun dequantize(raw: ByteArray, q: QuantParams, dtype: DType): FloatArray =
        FloatArray(raw.size) { dequantize(byteValue(raw[it], dtype), q) }

    /**
     * Maps a cache from its output quantization [from] to its input quantization [to]:
     * `q_in = clip(roundHalfAway((q_out - z_out) * float32(s_out / s_in)) + z_in)` in float32,
     * as the Python runtime does (docs/sidecar.md), as a table over the 256 byte values.
     */
    fun requantizeTable(from: QuantParams, to: QuantParams, dtype: DType): ByteArray {
        val r = range(dtype)
        val ratio = (from.scale / to.scale).toFloat()
        val table = ByteArray(256)
        for (v in r) {
            val q = roundHalfAway((v.toFloat() - from.zeroPoint.toFloat()) * ratio) + to.zeroPoint.toFloat()
            table[v and 0xFF] = toByte(q.coerceIn(r.first.toFloat(), r.last.toFloat()).toInt())
        }
        return table
    }
}
