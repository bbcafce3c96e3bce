package org.tsmtf.demo.core

import org.junit.Assert.assertEquals
import org.junit.Assert.assertNull
import org.junit.Assert.assertTrue
import org.junit.Assert.fail
import org.junit.Test

class SidecarTest {
    private fun rejects(json: String, vararg words: String) {
        try {
            Sidecar.parse(json, "m.json")
            fail("accepted")
        } catch (e: SidecarException) {
            for (w in words) assertTrue("'${e.message}' lacks '$w'", e.message!!.contains(w))
        }
    }

    @Test
    fun readsEveryFieldTheAppNeeds() {
        val s = Sidecar.parse(TestSidecars.json())
        assertEquals(listOf("left", "right", "up"), s.labels)
        assertEquals("image", s.input.name)
        assertEquals(DType.INT8, s.input.dtype)
        assertEquals(QuantParams(0.0187, -14), s.input.quantization)
        assertEquals(PreprocessSpec(4, 4, 4), s.preprocess)
        assertEquals("logits", s.output.name)
        assertNull(s.output.quantization)
        assertEquals(listOf("state_b", "state_a"), s.states.map { it.input })
        assertEquals(12, s.states[0].numElements)
        assertEquals(QuantParams(0.05, 0), s.states[1].outputQuantization)
        assertTrue(s.states[1].requantize)
        assertEquals(2.0, s.temporal.trainFrameStride, 0.0)
        assertEquals(listOf(0.229, 0.224, 0.225), s.input.std)
    }

    @Test
    fun refusesAnOfflineModel() = rejects(TestSidecars.json(mode = "offline"), "model.mode", "streaming")

    @Test
    fun refusesLabelCountMismatch() = rejects(TestSidecars.json(labels = """["a", "b"]"""), "labels", "num_classes is 3")

    @Test
    fun refusesQuantizedInputWithoutParameters() = rejects(TestSidecars.json(inputQuant = "null"), "input.quantization", "missing")

    @Test
    fun refusesFloat16Cache() = rejects(TestSidecars.json(states = """[{"input": "s", "output": "s", "shape": [1],
        "dtype": "float16", "input_quantization": null, "output_quantization": null, "requantize": false}]"""), "float16")

    @Test
    fun refusesARequantizeFlagThatContradictsTheParameters() = rejects(TestSidecars.json().replace(
        "\"requantize\": true", "\"requantize\": false"), "states[1]", "requantize is false", "differ")

    @Test
    fun refusesOtherFormats() {
        rejects(TestSidecars.json().replace("tsm_tf.sidecar", "other"), "format")
        rejects(TestSidecars.json().replace("\"version\": 1", "\"version\": 2"), "version")
        rejects("[1]", "JSON object")
    }
}
