package org.tsmtf.demo.core

import org.junit.Assert.assertArrayEquals
import org.junit.Assert.assertEquals
import org.junit.Assert.assertTrue
import org.junit.Assert.fail
import org.junit.Test

/**
 * A fake streaming model with named tensors: each cache output is its input plus one (in
 * quantized units) and the logits count how many frames each cache has seen. It keeps its
 * tensors in a hash map, so any pairing by position instead of by name would mix them up.
 */
class FakeModel(private val sidecar: Sidecar) : TensorRunner {
    val inputs = HashMap<String, Any>()
    val outputs = HashMap<String, Any>()
    var runs = 0

    override fun writeFloat(name: String, values: FloatArray) { inputs[name] = values.copyOf() }
    override fun writeInt8(name: String, values: ByteArray) { inputs[name] = values.copyOf() }
    override fun readFloat(name: String): FloatArray = (outputs[name] ?: fail("no output $name")) as FloatArray
    override fun readInt8(name: String): ByteArray = ((outputs[name] ?: fail("no output $name")) as ByteArray).copyOf()

    override fun run() {
        runs++
        assertTrue("image not written", sidecar.input.name in inputs)
        val logits = FloatArray(sidecar.numClasses)
        for ((i, s) in sidecar.states.withIndex()) {
            val x = inputs[s.input] ?: fail("state ${s.input} not written")
            if (x is ByteArray) {
                val zp = s.inputQuantization!!.zeroPoint
                // Value in "frames seen": dequantize with the input parameters, add one frame.
                val seen = (x[0] - zp) * s.inputQuantization.scale
                logits[i] = seen.toFloat()
                val next = Quant.quantize((seen + 1).toFloat(), s.outputQuantization!!, s.dtype)
                outputs[s.output] = ByteArray(x.size) { next.toByte() }
            } else {
                val f = x as FloatArray
                logits[i] = f[0]
                outputs[s.output] = FloatArray(f.size) { f[0] + 1 }
            }
        }
        outputs[sidecar.output.name] = logits
    }
}

class StateCarrierTest {
    private val sidecar = Sidecar.parse(TestSidecars.json())

    @Test
    fun planFollowsTheSidecarByName() {
        val plan = StateCarrier(sidecar.states).plan
        assertEquals(listOf("state_b", "state_a"), plan.map { it.input })
        assertEquals(listOf(12, 2), plan.map { it.numElements })
        assertEquals(listOf(-3, 5), plan.map { it.zeroValue })
        assertEquals(listOf(false, true), plan.map { it.requantize })
    }

    @Test
    fun resetWritesTheInputZeroPoint() {
        val model = FakeModel(sidecar)
        StateCarrier(sidecar.states).reset(model)
        assertArrayEquals(ByteArray(12) { -3 }, model.inputs["state_b"] as ByteArray)
        assertArrayEquals(ByteArray(2) { 5 }, model.inputs["state_a"] as ByteArray)
    }

    @Test
    fun cachesCarryByNameWithRequantization() {
        val model = FakeModel(sidecar)
        val rec = StreamRecognizer(sidecar, model, NoSmoothing())
        val frame = RgbImage(4, 4)
        val seen = (0 until 3).map { rec.process(frame).logits.toList() }
        // Both caches count frames: 0, 1, 2, whatever their scales, because state_a's output
        // (scale 0.05, zp 0) is requantized to its input (scale 0.1, zp 5) and state_b is copied.
        // state_b counts in units of its scale 0.02; 0.02 * k is exact enough at 1e-6.
        for (k in 0 until 3) {
            assertEquals(k.toFloat(), seen[k][0], 1e-5f)
            assertEquals(k.toFloat(), seen[k][1], 1e-5f)
        }
        rec.reset()
        assertEquals(0f, rec.process(frame).logits[0], 0f)
    }

    @Test
    fun floatCachesCarryAndReset() {
        val json = TestSidecars.json(inputDtype = "float32", inputQuant = "null", states = """[
            {"input": "s2", "output": "s2", "shape": [3], "dtype": "float32", "input_quantization": null,
             "output_quantization": null, "requantize": false},
            {"input": "s1", "output": "s1", "shape": [1, 2], "dtype": "float32", "input_quantization": null,
             "output_quantization": null, "requantize": false}]""")
        val sc = Sidecar.parse(json)
        val model = FakeModel(sc)
        val rec = StreamRecognizer(sc, model, NoSmoothing())
        repeat(3) { rec.process(RgbImage(6, 5)) }
        assertArrayEquals(floatArrayOf(3f, 3f, 3f), model.inputs["s2"] as FloatArray, 0f)
        assertArrayEquals(floatArrayOf(3f, 3f), model.inputs["s1"] as FloatArray, 0f)
        rec.reset()
        assertArrayEquals(floatArrayOf(0f, 0f), model.inputs["s1"] as FloatArray, 0f)
    }

    @Test
    fun aWrongSizedCacheNamesTheTensor() {
        val model = object : TensorRunner by FakeModel(sidecar) {
            override fun readInt8(name: String) = ByteArray(1)
        }
        try {
            StateCarrier(sidecar.states).carry(model)
            fail("accepted")
        } catch (e: IllegalStateException) {
            assertTrue(e.message!!.contains("state_b"))
        }
    }
}
