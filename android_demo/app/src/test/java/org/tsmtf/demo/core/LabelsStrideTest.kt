package org.tsmtf.demo.core

import org.junit.Assert.assertEquals
import org.junit.Test

class LabelsStrideTest {
    @Test
    fun topThreeBestFirstLowerIndexOnTies() {
        val top = Labels(listOf("a", "b", "c", "d")).top(floatArrayOf(0.1f, 0.4f, 0.1f, 0.4f), 3)
        assertEquals(listOf(1, 3, 0), top.map { it.index })
        assertEquals(listOf("b", "d", "a"), top.map { it.label })
        assertEquals("class 7", Labels(listOf("a")).name(7))
    }

    @Test
    fun strideFromFramesOrSeconds() {
        assertEquals(2, Stride.forFps(TemporalSpec(2.0, null, null), 30.0))
        assertEquals(1, Stride.forFps(TemporalSpec(0.4, null, null), null))
        assertEquals(3, Stride.forFps(TemporalSpec(2.0, 20.0, 0.1), 30.0)) // 0.1 s at 30 fps
        assertEquals(2, Stride.forFps(TemporalSpec(2.0, 20.0, 0.1), null)) // fps unknown: frames
    }

    @Test
    fun fpsMeterMeasuresTheRate() {
        val m = FpsMeter(5)
        assertEquals(0.0, m.fps, 0.0)
        for (i in 0 until 10) m.tick(i * 40_000_000L) // every 40 ms
        assertEquals(25.0, m.fps, 1e-9)
    }
}
