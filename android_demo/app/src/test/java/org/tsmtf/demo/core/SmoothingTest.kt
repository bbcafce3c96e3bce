package org.tsmtf.demo.core

import org.junit.Assert.assertEquals
import org.junit.Assert.fail
import org.junit.Test
import kotlin.math.exp

class SmoothingTest {
    /** Logits that vote for class [c] of 3 with margin 1. */
    private fun vote(c: Int) = FloatArray(3) { if (it == c) 1f else 0f }

    private fun labels(s: Smoother, seq: List<Int>) = seq.map { s.update(vote(it)).label }

    @Test
    fun noneIsTheFramesArgmaxWithItsSoftmax() {
        val d = NoSmoothing().update(floatArrayOf(0f, 2f, 1f))
        assertEquals(1, d.label)
        val e = doubleArrayOf(exp(0.0), exp(2.0), exp(1.0))
        assertEquals(e[1] / e.sum(), d.score.toDouble(), 1e-6)
    }

    @Test
    fun meanOfTwoFollowsTheWindow() {
        // Votes 0, 1, 1, 0, 0: means [1,0,0] -> 0; [.5,.5,0] -> tie -> 0 (first index); [0,1,0] -> 1;
        // [.5,.5,0] -> 0; [1,0,0] -> 0.
        assertEquals(listOf(0, 0, 1, 0, 0), labels(MeanSmoother(2), listOf(0, 1, 1, 0, 0)))
    }

    @Test
    fun referenceHoldsTheOutputOneFrameAfterAChange() {
        // Window 1 makes the window prediction the frame's vote, so the rule alone is tested:
        // a new prediction is taken unless the output changed on the previous frame.
        val s = ReferenceSmoother(1)
        // 2 first; 0 taken; 2 held (0 just changed); 0, 0; 1 taken; 2 held; 2 taken.
        assertEquals(listOf(2, 0, 0, 0, 0, 1, 1, 2), labels(s, listOf(2, 0, 2, 0, 0, 1, 2, 2)))
    }

    @Test
    fun referenceWindowSumsTwelveFrames() {
        // Twelve votes for 0 then votes for 1: the sum's argmax flips to 1 at the 7th vote for
        // 1 (7 > 5; the 6th is a tie, which goes to class 0), taken at once (0 was stable).
        val s = ReferenceSmoother()
        val out = labels(s, List(12) { 0 } + List(9) { 1 })
        assertEquals(List(12) { 0 } + List(6) { 0 } + listOf(1, 1, 1), out)
        s.reset()
        assertEquals(1, s.update(vote(1)).label) // after reset the first prediction is taken
    }

    @Test
    fun parsesRules() {
        assertEquals("none", Smoother.of("none").rule)
        assertEquals("mean:8", Smoother.of("mean").rule)
        assertEquals("mean:3", Smoother.of("Mean:3").rule)
        assertEquals("reference:12", Smoother.of("reference").rule)
        for (bad in listOf("median", "mean:0", "mean:x", "none:2", "mean:-1")) {
            try { Smoother.of(bad); fail(bad) } catch (e: IllegalArgumentException) { /* expected */ }
        }
    }
}
