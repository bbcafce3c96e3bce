package org.tsmtf.demo.core

/**
 * YUV 4:2:0 -> RGB with BT.601 limited-range coefficients in 20-bit fixed point: the same
 * integer arithmetic as OpenCV's `cvtColor(..., COLOR_YUV2RGB_NV21)`, so the app sees the
 * colours the Python side sees for the same bytes. Chroma is shared by each 2x2 block.
 */
object Yuv {
    private const val SHIFT = 20
    private const val HALF = 1 shl (SHIFT - 1)
    private const val CY = 1220542 // 1.164 * 2^20
    private const val CUB = 2116026 // 2.018
    private const val CUG = -409993 // -0.391
    private const val CVG = -852492 // -0.813
    private const val CVR = 1673527 // 1.596

    private fun clamp(v: Int): Int = if (v < 0) 0 else if (v > 255) 255 else v

    /**
     * Converts planes described by offsets and strides, the layout of an Android
     * `Image` in `YUV_420_888` (plane buffers copied to arrays) and of NV21/I420 alike.
     */
    fun toRgb(
        width: Int, height: Int,
        y: ByteArray, yOffset: Int, yRowStride: Int, yPixelStride: Int,
        u: ByteArray, uOffset: Int, v: ByteArray, vOffset: Int, uvRowStride: Int, uvPixelStride: Int,
        out: RgbImage? = null,
        rotation: Int = 0,
    ): RgbImage {
        // Rotating clockwise while converting (no second pass): pixel (col, row) of the sensor
        // frame lands at out[base + row * rowStep + col * colStep].
        val r = ((rotation % 360) + 360) % 360
        require(r % 90 == 0) { "Rotation must be a multiple of 90 degrees, got $rotation" }
        val outW = if (r == 90 || r == 270) height else width
        val outH = if (r == 90 || r == 270) width else height
        val image = out ?: RgbImage(outW, outH)
        require(image.width == outW && image.height == outH) { "Output is ${image.width}x${image.height}, the frame turned by $r is ${outW}x$outH" }
        val (base, colStep, rowStep) = when (r) {
            0 -> Triple(0, 1, outW)
            90 -> Triple(outW - 1, outW, -1)
            180 -> Triple(outW * outH - 1, -1, -outW)
            else -> Triple((outH - 1) * outW, -outW, 1)
        }
        val rgb = image.data
        for (row in 0 until height) {
            val yRow = yOffset + row * yRowStride
            val uvRow = (row shr 1) * uvRowStride
            var p = base + row * rowStep
            for (col in 0 until width) {
                val uvIndex = uvRow + (col shr 1) * uvPixelStride
                val uu = (u[uOffset + uvIndex].toInt() and 0xFF) - 128
                val vv = (v[vOffset + uvIndex].toInt() and 0xFF) - 128
                val yy = maxOf(0, (y[yRow + col * yPixelStride].toInt() and 0xFF) - 16) * CY
                val o = p * 3
                rgb[o] = clamp((yy + HALF + CVR * vv) shr SHIFT).toByte()
                rgb[o + 1] = clamp((yy + HALF + CVG * vv + CUG * uu) shr SHIFT).toByte()
                rgb[o + 2] = clamp((yy + HALF + CUB * uu) shr SHIFT).toByte()
                p += colStep
            }
        }
        return image
    }

    /** NV21 (the legacy camera's preview format): Y plane, then interleaved V, U rows. */
    fun nv21ToRgb(nv21: ByteArray, width: Int, height: Int, out: RgbImage? = null, rotation: Int = 0): RgbImage {
        require(width % 2 == 0 && height % 2 == 0) { "NV21 needs an even size, got ${width}x$height" }
        val need = width * height * 3 / 2
        require(nv21.size >= need) { "NV21 ${width}x$height needs $need bytes, got ${nv21.size}" }
        val uv = width * height
        return toRgb(width, height, nv21, 0, width, 1, nv21, uv + 1, nv21, uv, width, 2, out, rotation)
    }
}
