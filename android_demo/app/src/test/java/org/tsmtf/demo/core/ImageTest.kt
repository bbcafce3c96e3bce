package org.tsmtf.demo.core

import org.junit.Assert.assertArrayEquals
import org.junit.Assert.assertEquals
import org.junit.Test

class ImageTest {
    /** Pixel (x, y) has R = 10x + y, G = 100 + x, B = 200 + y. */
    private fun pattern(w: Int, h: Int) = RgbImage(w, h, ByteArray(w * h * 3) {
        val p = it / 3
        val x = p % w
        val y = p / w
        when (it % 3) { 0 -> 10 * x + y; 1 -> 100 + x; else -> 200 + y }.toByte()
    })

    @Test
    fun rotateClockwiseMovesTheTopLeftToTheTopRight() {
        val img = pattern(3, 2)
        val r = img.rotate(90)
        assertEquals(2, r.width)
        assertEquals(3, r.height)
        // Clockwise: the source's left column (x = 0), read bottom-up, becomes the top row.
        assertEquals(img.get(0, 1, 0), r.get(0, 0, 0))
        assertEquals(img.get(0, 0, 0), r.get(1, 0, 0))
        assertEquals(img.get(2, 0, 0), r.get(1, 2, 0))
    }

    @Test
    fun fourQuarterTurnsAreTheIdentityAnd180IsTwo90s() {
        val img = pattern(5, 3)
        assertArrayEquals(img.data, img.rotate(90).rotate(90).rotate(90).rotate(90).data)
        assertArrayEquals(img.rotate(180).data, img.rotate(90).rotate(90).data)
        assertArrayEquals(img.rotate(270).data, img.rotate(-90).data)
    }

    @Test
    fun cropTakesTheRegion() {
        val c = pattern(5, 4).crop(1, 2, 3, 2)
        assertEquals(10 * 1 + 2, c.get(0, 0, 0))
        assertEquals(10 * 3 + 3, c.get(2, 1, 0))
        assertEquals(203, c.get(2, 1, 2))
    }
}
