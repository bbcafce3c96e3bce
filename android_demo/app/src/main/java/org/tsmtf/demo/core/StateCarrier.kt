package org.tsmtf.demo.core

/** What the runtime does with one cache, derived from the sidecar (the "state plan"). */
data class StateSlot(
    val input: String,
    val output: String,
    val dtype: DType,
    val numElements: Int,
    /** The value a fresh stream starts from: 0.0, or the input zero point for int8/uint8. */
    val zeroValue: Int,
    /** Output and input quantization differ: output bytes go through [requantizeTable]. */
    val requantize: Boolean,
    val requantizeTable: ByteArray?,
)

/**
 * Carries the shift caches from one frame's outputs to the next frame's inputs by name
 * (docs/sidecar.md): copied as raw bytes, requantized where the sidecar says the output and
 * input quantization differ; a reset writes zero states (float 0 or the input zero point).
 */
class StateCarrier(states: List<StateSpec>) {
    val plan: List<StateSlot> = states.map { s ->
        val inQ = s.inputQuantization
        val outQ = s.outputQuantization
        val table = if (s.dtype.isQuantized && inQ != null && outQ != null && inQ != outQ) {
            Quant.requantizeTable(outQ, inQ, s.dtype)
        } else {
            null
        }
        StateSlot(s.input, s.output, s.dtype, s.numElements,
            if (s.dtype.isQuantized) inQ!!.zeroPoint else 0, table != null, table)
    }

    private val zeroFloats = plan.filter { !it.dtype.isQuantized }.associate { it.input to FloatArray(it.numElements) }
    private val zeroBytes = plan.filter { it.dtype.isQuantized }.associate {
        it.input to ByteArray(it.numElements) { _ -> Quant.toByte(it.zeroValue) }
    }

    /** Writes the zero state into every cache input (a new stream, or the reset button). */
    fun reset(runner: TensorRunner) {
        for (slot in plan) {
            if (slot.dtype.isQuantized) runner.writeInt8(slot.input, zeroBytes.getValue(slot.input))
            else runner.writeFloat(slot.input, zeroFloats.getValue(slot.input))
        }
    }

    /** After a run: every cache output becomes the cache input of the same name. */
    fun carry(runner: TensorRunner) {
        for (slot in plan) {
            if (slot.dtype.isQuantized) {
                val bytes = runner.readInt8(slot.output)
                checkSize(slot, bytes.size)
                val table = slot.requantizeTable
                if (table != null) for (i in bytes.indices) bytes[i] = table[bytes[i].toInt() and 0xFF]
                runner.writeInt8(slot.input, bytes)
            } else {
                val values = runner.readFloat(slot.output)
                checkSize(slot, values.size)
                runner.writeFloat(slot.input, values)
            }
        }
    }

    private fun checkSize(slot: StateSlot, size: Int) {
        if (size != slot.numElements) {
            throw IllegalStateException("Cache output '${slot.output}' has $size values but the sidecar's shape " +
                "gives ${slot.numElements}: the sidecar does not belong to this model (re-import both files).")
        }
    }
}
