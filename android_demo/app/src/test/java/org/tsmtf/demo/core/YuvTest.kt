package org.tsmtf.demo.core

import org.junit.Assert.assertArrayEquals
import org.junit.Assert.assertEquals
import org.junit.Assert.assertTrue
import org.junit.Test
import java.util.Random
import kotlin.math.abs
import kotlin.math.roundToInt

class YuvTest {
    private val w = 6
    private val h = 4
    private val rnd = Random(7)
    private val yPlane = ByteArray(w * h) { rnd.nextInt(256).toByte() }
    private val uPlane = ByteArray(w * h / 4) { rnd.nextInt(256).toByte() }
    private val vPlane = ByteArray(w * h / 4) { rnd.nextInt(256).toByte() }

    private fun nv21(): ByteArray {
        val out = yPlane.copyOf(w * h * 3 / 2)
        for (i in uPlane.indices) { out[w * h + 2 * i] = vPlane[i]; out[w * h + 2 * i + 1] = uPlane[i] }
        return out
    }

    /** BT.601 limited range in double precision: the textbook formula, an independent reference. */
    private fun reference(x: Int, y: Int): IntArray {
        val yy = (yPlane[y * w + x].toInt() and 0xFF) - 16.0
        val c = (y / 2) * (w / 2) + x / 2
        val u = (uPlane[c].toInt() and 0xFF) - 128.0
        val v = (vPlane[c].toInt() and 0xFF) - 128.0
        fun clip(d: Double) = d.roundToInt().coerceIn(0, 255)
        val luma = 1.164 * maxOf(yy, 0.0)
        return intArrayOf(clip(luma + 1.596 * v), clip(luma - 0.391 * u - 0.813 * v), clip(luma + 2.018 * u))
    }

    @Test
    fun nv21MatchesTheBt601FormulaWithinOneStep() {
        val rgb = Yuv.nv21ToRgb(nv21(), w, h)
        for (y in 0 until h) for (x in 0 until w) {
            val ref = reference(x, y)
            for (c in 0 until 3) assertTrue("($x,$y,$c)", abs(rgb.get(x, y, c) - ref[c]) <= 1)
        }
    }

    @Test
    fun rotatingWhileConvertingEqualsRotatingAfterwards() {
        val upright = Yuv.nv21ToRgb(nv21(), w, h)
        for (r in listOf(0, 90, 180, 270, -90)) {
            val turned = Yuv.nv21ToRgb(nv21(), w, h, rotation = r)
            assertArrayEquals("rotation $r", upright.rotate(r).data, turned.data)
        }
        // A reused output must have the turned size.
        assertArrayEquals(upright.rotate(90).data, Yuv.nv21ToRgb(nv21(), w, h, RgbImage(h, w), 90).data)
    }

    @Test
    fun greyHasEqualChannels() {
        val frame = ByteArray(4 * 2 * 3 / 2) { 128.toByte() }
        for (i in 0 until 8) frame[i] = (16 + 30 * i).toByte()
        val rgb = Yuv.nv21ToRgb(frame, 4, 2)
        for (i in 0 until 8) {
            val expect = (1.164 * (30 * i)).roundToInt().coerceAtMost(255)
            assertEquals(expect, rgb.get(i % 4, i / 4, 0))
            assertEquals(rgb.get(i % 4, i / 4, 0), rgb.get(i % 4, i / 4, 1))
            assertEquals(rgb.get(i % 4, i / 4, 0), rgb.get(i % 4, i / 4, 2))
        }
    }

    @Test
    fun yuv420888PlanesWithPaddingGiveTheNv21Result() {
        // Y rows padded to 8 bytes; U and V as separate planes with pixel stride 1 and row stride 5.
        val yStride = 8
        val y = ByteArray(yStride * h)
        for (r in 0 until h) System.arraycopy(yPlane, r * w, y, r * yStride, w)
        val uvStride = 5
        val u = ByteArray(uvStride * h / 2)
        val v = ByteArray(uvStride * h / 2)
        for (r in 0 until h / 2) for (c in 0 until w / 2) {
            u[r * uvStride + c] = uPlane[r * w / 2 + c]
            v[r * uvStride + c] = vPlane[r * w / 2 + c]
        }
        val planar = Yuv.toRgb(w, h, y, 0, yStride, 1, u, 0, v, 0, uvStride, 1)
        assertArrayEquals(Yuv.nv21ToRgb(nv21(), w, h).data, planar.data)
    }
}
