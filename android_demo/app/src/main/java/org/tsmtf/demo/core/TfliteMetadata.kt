package org.tsmtf.demo.core

import java.nio.ByteBuffer
import java.nio.ByteOrder

/**
 * Reads one named entry of a `.tflite` flatbuffer's `metadata` list (the sidecar is embedded
 * under `tsm_tf`), walking the schema by hand: Model.metadata (field 6) -> Metadata{name,
 * buffer} -> Model.buffers (field 4) -> Buffer{data, offset, size}.
 */
object TfliteMetadata {
    const val SIDECAR_NAME = "tsm_tf"

    private const val MODEL_BUFFERS = 4
    private const val MODEL_METADATA = 6

    /** The bytes of metadata [name], or null when the model has no such entry. */
    fun extract(model: ByteArray, name: String = SIDECAR_NAME, source: String = "model"): ByteArray? {
        try {
            val b = ByteBuffer.wrap(model).order(ByteOrder.LITTLE_ENDIAN)
            if (model.size < 8 || String(model, 4, 4, Charsets.US_ASCII) != "TFL3") {
                throw IllegalArgumentException("$source is not a TFLite flatbuffer (no TFL3 identifier)")
            }
            val root = b.getInt(0)
            val metadata = field(b, root, MODEL_METADATA) ?: return null
            val entries = vector(b, metadata)
            for (i in 0 until entries.second) {
                val entry = table(b, entries.first + 4 * i)
                val namePos = field(b, entry, 0) ?: continue
                if (string(b, namePos) != name) continue
                val bufferIndex = scalarU32(b, entry, 1)
                val buffers = vector(b, field(b, root, MODEL_BUFFERS) ?: return null)
                if (bufferIndex !in 0 until buffers.second) {
                    throw IllegalArgumentException("$source: metadata '$name' points at buffer $bufferIndex of ${buffers.second}")
                }
                val buffer = table(b, buffers.first + 4 * bufferIndex)
                val data = field(b, buffer, 0)
                if (data != null) {
                    val (start, length) = vector(b, data)
                    return model.copyOfRange(start, start + length)
                }
                // Large models keep buffer data outside the flatbuffer: offset/size from the file start.
                val offset = scalarU64(b, buffer, 1)
                val size = scalarU64(b, buffer, 2)
                if (offset > 1 && offset + size <= model.size) return model.copyOfRange(offset.toInt(), (offset + size).toInt())
                return ByteArray(0)
            }
            return null
        } catch (e: IndexOutOfBoundsException) {
            throw IllegalArgumentException("$source is a truncated or corrupt TFLite flatbuffer")
        }
    }

    /** Absolute position of the table an offset at [pos] points to. */
    private fun table(b: ByteBuffer, pos: Int): Int = pos + b.getInt(pos)

    /** Position of field [id] of the table at [t] (following the offset), or null if absent. */
    private fun field(b: ByteBuffer, t: Int, id: Int): Int? {
        val at = fieldPos(b, t, id) ?: return null
        return at + b.getInt(at)
    }

    private fun fieldPos(b: ByteBuffer, t: Int, id: Int): Int? {
        val vt = t - b.getInt(t)
        val vtSize = b.getShort(vt).toInt() and 0xFFFF
        if (4 + 2 * id + 2 > vtSize) return null
        val off = b.getShort(vt + 4 + 2 * id).toInt() and 0xFFFF
        return if (off == 0) null else t + off
    }

    private fun scalarU32(b: ByteBuffer, t: Int, id: Int): Int = fieldPos(b, t, id)?.let { b.getInt(it) } ?: 0
    private fun scalarU64(b: ByteBuffer, t: Int, id: Int): Long = fieldPos(b, t, id)?.let { b.getLong(it) } ?: 0L

    /** (first element position, length) of the vector at [pos]. */
    private fun vector(b: ByteBuffer, pos: Int): Pair<Int, Int> = Pair(pos + 4, b.getInt(pos))

    private fun string(b: ByteBuffer, pos: Int): String {
        val (start, length) = vector(b, pos)
        return String(b.array(), start, length, Charsets.UTF_8)
    }
}
