package org.tsmtf.demo.core

import org.junit.Assert.assertEquals
import org.junit.Test

class QuantTest {
    @Test
    fun roundsHalfAwayFromZero() {
        assertEquals(3f, Quant.roundHalfAway(2.5f))
        assertEquals(-3f, Quant.roundHalfAway(-2.5f))
        assertEquals(2f, Quant.roundHalfAway(2.4999f))
        assertEquals(-0f, Quant.roundHalfAway(-0.2f))
    }

    @Test
    fun quantizeClipsToTheType() {
        val q = QuantParams(0.5, 10)
        assertEquals(127, Quant.quantize(100f, q, DType.INT8))
        assertEquals(-128, Quant.quantize(-100f, q, DType.INT8))
        assertEquals(0, Quant.quantize(-100f, q, DType.UINT8))
        assertEquals(13, Quant.quantize(1.25f, q, DType.INT8)) // 2.5 -> 3, + 10
    }

    @Test
    fun dequantizeReadsSignedAndUnsignedBytes() {
        val q = QuantParams(0.25, -2)
        assertEquals(listOf(-31.5f, 0.5f), Quant.dequantize(byteArrayOf(-128, 0), q, DType.INT8).toList())
        assertEquals(listOf(64.25f), Quant.dequantize(byteArrayOf(-1), q, DType.UINT8).toList()) // (255 + 2) / 4
    }

    @Test
    fun requantizeTableMatchesTheContractFormula() {
        val from = QuantParams(0.05, 0)
        val to = QuantParams(0.1, 5)
        val t = Quant.requantizeTable(from, to, DType.INT8)
        for (v in -128..127) {
            // q_in = round((q_out - z_out) * s_out / s_in) + z_in, clipped (docs/sidecar.md).
            val exact = (v - 0) * 0.05 / 0.1
            val ref = (Math.floor(Math.abs(exact) + 0.5) * Math.signum(exact)).toInt() + 5
            // At exact ties (x.5) float32 and double may round to different sides.
            val tie = Math.abs(Math.abs(exact % 1.0) - 0.5) < 1e-6
            assertEquals("q_out=$v", ref.coerceIn(-128, 127).toDouble(), t[v and 0xFF].toDouble(), if (tie) 1.0 else 0.0)
        }
    }
}
