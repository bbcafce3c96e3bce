package org.tsmtf.demo.core

/** An 8-bit RGB image, row-major, interleaved `[height, width, 3]` (R, G, B per pixel). */
class RgbImage(val width: Int, val height: Int, val data: ByteArray = ByteArray(width * height * 3)) {
    init {
        require(width > 0 && height > 0) { "Image size must be positive, got ${width}x$height" }
        require(data.size == width * height * 3) { "RGB data holds ${data.size} bytes, expected ${width * height * 3} for ${width}x$height" }
    }

    /** Channel [c] of pixel ([x], [y]) as 0..255. */
    fun get(x: Int, y: Int, c: Int): Int = data[(y * width + x) * 3 + c].toInt() and 0xFF

    /** The [w]x[h] region at ([x], [y]). */
    fun crop(x: Int, y: Int, w: Int, h: Int): RgbImage {
        require(x >= 0 && y >= 0 && x + w <= width && y + h <= height) { "Crop ${w}x$h at ($x, $y) leaves the ${width}x$height image" }
        val out = RgbImage(w, h)
        for (row in 0 until h) System.arraycopy(data, ((y + row) * width + x) * 3, out.data, row * w * 3, w * 3)
        return out
    }

    /** Rotated clockwise by [degrees] (0, 90, 180 or 270), e.g. a sensor frame made upright. */
    fun rotate(degrees: Int): RgbImage {
        val d = ((degrees % 360) + 360) % 360
        require(d % 90 == 0) { "Rotation must be a multiple of 90 degrees, got $degrees" }
        if (d == 0) return this
        val outW = if (d == 180) width else height
        val outH = if (d == 180) height else width
        val out = RgbImage(outW, outH)
        for (y in 0 until height) {
            for (x in 0 until width) {
                // Where source pixel (x, y) lands after a clockwise turn.
                val nx: Int
                val ny: Int
                when (d) {
                    90 -> { nx = height - 1 - y; ny = x }
                    180 -> { nx = width - 1 - x; ny = height - 1 - y }
                    else -> { nx = y; ny = width - 1 - x }
                }
                val i = (y * width + x) * 3
                val o = (ny * outW + nx) * 3
                out.data[o] = data[i]
                out.data[o + 1] = data[i + 1]
                out.data[o + 2] = data[i + 2]
            }
        }
        return out
    }
}
