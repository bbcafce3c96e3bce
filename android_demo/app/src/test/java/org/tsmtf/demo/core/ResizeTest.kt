package org.tsmtf.demo.core

import org.junit.Assert.assertEquals
import org.junit.Assert.assertSame
import org.junit.Assert.assertTrue
import org.junit.Test
import java.util.Random
import kotlin.math.abs
import kotlin.math.floor
import kotlin.math.roundToInt

class ResizeTest {
    private fun random(w: Int, h: Int, seed: Long): RgbImage {
        val r = Random(seed)
        return RgbImage(w, h, ByteArray(w * h * 3) { r.nextInt(256).toByte() })
    }

    /** Bilinear with half-pixel centres and edge clamping, in double precision. */
    private fun bilinearReference(src: RgbImage, w: Int, h: Int, x: Int, y: Int, c: Int): Double {
        fun axis(d: Int, dst: Int, n: Int): Triple<Int, Int, Double> {
            val f = maxOf((d + 0.5) * n / dst - 0.5, 0.0)
            val i = minOf(floor(f).toInt(), n - 1)
            return Triple(i, minOf(i + 1, n - 1), if (i == n - 1) 0.0 else f - i)
        }
        val (x0, x1, fx) = axis(x, w, src.width)
        val (y0, y1, fy) = axis(y, h, src.height)
        return (1 - fy) * ((1 - fx) * src.get(x0, y0, c) + fx * src.get(x1, y0, c)) +
            fy * ((1 - fx) * src.get(x0, y1, c) + fx * src.get(x1, y1, c))
    }

    @Test
    fun bilinearIsWithinOneStepOfExactBilinear() {
        val src = random(7, 5, 1)
        for ((w, h) in listOf(Pair(11, 9), Pair(5, 4), Pair(13, 5))) {
            val out = Resize.bilinear(src, w, h)
            for (y in 0 until h) for (x in 0 until w) for (c in 0 until 3) {
                val ref = bilinearReference(src, w, h, x, y, c)
                assertTrue("$w x $h at ($x,$y,$c): ${out.get(x, y, c)} vs $ref", abs(out.get(x, y, c) - ref) <= 1.0)
            }
        }
    }

    @Test
    fun constantImagesStayConstant() {
        val src = RgbImage(9, 6, ByteArray(9 * 6 * 3) { (if (it % 3 == 0) 255 else 37).toByte() })
        for (out in listOf(Resize.bilinear(src, 13, 7), Resize.area(src, 4, 3), Resize.area(src, 3, 2))) {
            for (y in 0 until out.height) for (x in 0 until out.width) {
                assertEquals(255, out.get(x, y, 0))
                assertEquals(37, out.get(x, y, 1))
            }
        }
    }

    @Test
    fun areaOfWholeBlocksIsTheRoundedBlockMean() {
        val src = random(8, 6, 2)
        val out = Resize.area(src, 4, 3)
        for (y in 0 until 3) for (x in 0 until 4) for (c in 0 until 3) {
            val sum = src.get(2 * x, 2 * y, c) + src.get(2 * x + 1, 2 * y, c) + src.get(2 * x, 2 * y + 1, c) + src.get(2 * x + 1, 2 * y + 1, c)
            assertEquals((sum / 4.0 + 1e-9).roundToInt(), out.get(x, y, c))
        }
    }

    @Test
    fun areaOfFractionalCellsIsTheOverlapWeightedMean() {
        // 5 -> 2 columns: output 0 covers source 0, 1 and half of 2.
        val src = random(5, 2, 3)
        val out = Resize.area(src, 2, 1)
        for (c in 0 until 3) {
            var ref = 0.0
            for (y in 0 until 2) ref += (src.get(0, y, c) + src.get(1, y, c) + 0.5 * src.get(2, y, c)) / 5.0
            assertTrue(abs(out.get(0, 0, c) - ref) <= 0.5 + 1e-4)
        }
    }

    @Test
    fun protocolChoosesAreaOnlyForTwofoldShrinks() {
        val src = random(8, 8, 4)
        assertSame(src, Resize.resize(src, 8, 8))
        assertEquals(Resize.area(src, 4, 4).data.toList(), Resize.resize(src, 4, 4).data.toList())
        assertEquals(Resize.bilinear(src, 5, 4).data.toList(), Resize.resize(src, 5, 4).data.toList())
    }
}
