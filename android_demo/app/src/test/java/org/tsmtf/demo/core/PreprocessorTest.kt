package org.tsmtf.demo.core

import org.junit.Assert.assertEquals
import org.junit.Test
import kotlin.math.abs

class PreprocessorTest {
    private val floatInput = InputSpec("image", listOf(1, 4, 4, 3), DType.FLOAT32, null, IMAGENET_MEAN, IMAGENET_STD)

    @Test
    fun shortSideSizeTruncatesTheLongSide() {
        assertEquals(Pair(341, 256), Preprocessor.shortSideSize(640, 480, 256))
        assertEquals(Pair(256, 341), Preprocessor.shortSideSize(480, 640, 256))
        assertEquals(Pair(73, 73), Preprocessor.shortSideSize(50, 50, 73))
        assertEquals(Pair(97, 73), Preprocessor.shortSideSize(320, 240, 73)) // 97.33
    }

    @Test
    fun centreCropRoundsHalfToEven() {
        // A 9x4 frame, resize 4 (no resize), crop 4x4: (9 - 4) / 2 = 2.5 -> 2 (Python's round).
        val frame = RgbImage(9, 4, ByteArray(9 * 4 * 3) { ((it / 3) % 9).toByte() })
        val p = Preprocessor(floatInput, PreprocessSpec(4, 4, 4))
        val crop = p.crop(frame)
        assertEquals(2, crop.get(0, 0, 0))
        // 11 wide: (11 - 4) / 2 = 3.5 -> 4.
        val wide = RgbImage(11, 4, ByteArray(11 * 4 * 3) { ((it / 3) % 11).toByte() })
        assertEquals(4, p.crop(wide).get(0, 0, 0))
    }

    @Test
    fun floatValuesAreImageNetNormalised() {
        val p = Preprocessor(floatInput, PreprocessSpec(4, 4, 4))
        val frame = RgbImage(4, 4, ByteArray(48) { (it * 5).toByte() })
        val x = p.toFloat(p.crop(frame))
        for (i in 0 until 48) {
            val ref = ((i * 5) / 255.0 - IMAGENET_MEAN[i % 3]) / IMAGENET_STD[i % 3]
            assertEquals(ref, x[i].toDouble(), 1e-6)
        }
    }

    @Test
    fun int8AndUint8QuantizeWithClipping() {
        for ((dtype, zp) in listOf(Pair(DType.INT8, -14), Pair(DType.UINT8, 114))) {
            val q = QuantParams(0.0187, zp)
            val spec = InputSpec("image", listOf(1, 4, 4, 3), dtype, q, IMAGENET_MEAN, IMAGENET_STD)
            val p = Preprocessor(spec, PreprocessSpec(4, 4, 4))
            val frame = RgbImage(4, 4, ByteArray(48) { (it * 5).toByte() })
            val bytes = p.toBytes(p.crop(frame))
            val r = if (dtype == DType.INT8) -128..127 else 0..255
            for (i in 0 until 48) {
                val x = ((i * 5) / 255.0 - IMAGENET_MEAN[i % 3]) / IMAGENET_STD[i % 3]
                val ref = (Math.round(x / 0.0187) + zp).toInt().coerceIn(r)
                val got = Quant.byteValue(bytes[i], dtype)
                assertEquals("$dtype $i", 0.0, abs(got - ref).toDouble(), 1.0) // ties may round either way in float32
            }
        }
    }
}
