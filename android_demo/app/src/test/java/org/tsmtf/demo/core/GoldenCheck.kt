package org.tsmtf.demo.core

import java.io.File
import java.nio.ByteBuffer
import java.nio.ByteOrder
import kotlin.math.abs
import kotlin.system.exitProcess

/**
 * Conformance with the Python runtime through golden files written by
 * tests/test_android_golden.py (`manifest.json` + raw little-endian blobs):
 * - frames: same RGB frame -> same model input (bit-exact when no resize is needed, else the
 *   RGB crop within one 8-bit step and the tensor within the matching bound);
 * - yuv: NV21 bytes -> RGB, against OpenCV's cvtColor;
 * - plans: same sidecar -> same state plan (names, sizes, zero values, requantization table);
 * - embedded: the sidecar read from a .tflite's `tsm_tf` metadata equals the .json;
 * - smoothing: same logits sequence -> same smoothed labels (and scores within 1e-5).
 * Prints one line per case and a summary; exits 1 on any mismatch.
 * Usage: GoldenCheck DIR
 */
object GoldenCheck {
    private var failures = 0

    private fun fail(msg: String) {
        failures++
        println("FAIL $msg")
    }

    private fun floats(bytes: ByteArray): FloatArray {
        val b = ByteBuffer.wrap(bytes).order(ByteOrder.LITTLE_ENDIAN).asFloatBuffer()
        return FloatArray(b.remaining()).also { b.get(it) }
    }

    private fun m(v: Any?): Map<*, *> = v as Map<*, *>
    private fun i(v: Any?): Int = (v as Double).toInt()

    @JvmStatic
    fun main(args: Array<String>) {
        val dir = File(args.getOrNull(0) ?: run { println("usage: GoldenCheck DIR"); exitProcess(2) })
        val manifest = m(Json.parse(File(dir, "manifest.json").readText(), "manifest.json"))
        val sidecars = HashMap<String, Sidecar>()
        fun sidecar(name: String) = sidecars.getOrPut(name) { Sidecar.parse(File(dir, name).readText(), name) }
        val summary = LinkedHashMap<String, Double>()
        fun worst(key: String, v: Double) { summary[key] = maxOf(summary[key] ?: 0.0, v) }

        for (case in manifest["frames"] as List<*>) {
            val c = m(case)
            val name = c["name"] as String
            val sc = sidecar(c["sidecar"] as String)
            val w = i(c["width"])
            val h = i(c["height"])
            val frame = RgbImage(w, h, File(dir, c["rgb"] as String).readBytes())
            val pre = Preprocessor(sc.input, sc.preprocess)
            val crop = pre.crop(frame)
            val wantCrop = File(dir, c["crop"] as String).readBytes()
            var cropDiff = 0
            for (k in wantCrop.indices) cropDiff = maxOf(cropDiff, abs((wantCrop[k].toInt() and 0xFF) - (crop.data[k].toInt() and 0xFF)))
            val exact = c["exact"] as Boolean
            val want = File(dir, c["tensor"] as String).readBytes()
            // Tensor difference in output units (float) or quantization steps (int8/uint8).
            var tensorDiff = 0.0
            if (sc.input.dtype.isQuantized) {
                val got = pre.toBytes(crop)
                for (k in got.indices) tensorDiff = maxOf(tensorDiff,
                    abs(Quant.byteValue(got[k], sc.input.dtype) - Quant.byteValue(want[k], sc.input.dtype)).toDouble())
            } else {
                val got = pre.toFloat(crop)
                val ref = floats(want)
                for (k in got.indices) tensorDiff = maxOf(tensorDiff, abs(got[k] - ref[k]).toDouble())
            }
            // One 8-bit step of a pixel moves the tensor by at most 1 / (255 * min std), and by
            // at most that / scale + 1 quantization steps.
            val floatStep = 1.0 / (255.0 * sc.input.std.minOrNull()!!)
            val bound = when {
                exact -> 0.0
                sc.input.dtype.isQuantized -> Math.ceil(floatStep / sc.input.quantization!!.scale) + 1
                else -> floatStep * 1.0001
            }
            println("frame $name ${w}x$h -> ${sc.input.dtype.jsonName}: crop max diff $cropDiff, tensor max diff $tensorDiff (bound $bound)")
            if (cropDiff > (if (exact) 0 else 1) || tensorDiff > bound) fail("frame $name")
            worst(if (exact) "frame_exact_crop" else "frame_resized_crop", cropDiff.toDouble())
        }

        for (case in manifest["yuv"] as List<*>) {
            val c = m(case)
            val w = i(c["width"])
            val h = i(c["height"])
            val rgb = Yuv.nv21ToRgb(File(dir, c["nv21"] as String).readBytes(), w, h)
            val want = File(dir, c["rgb"] as String).readBytes()
            var diff = 0
            var differing = 0
            for (k in want.indices) {
                val d = abs((want[k].toInt() and 0xFF) - (rgb.data[k].toInt() and 0xFF))
                diff = maxOf(diff, d)
                if (d > 0) differing++
            }
            println("yuv ${c["name"]} ${w}x$h: max diff $diff vs OpenCV, $differing of ${want.size} values differ")
            if (diff > 1) fail("yuv ${c["name"]}")
            worst("yuv", diff.toDouble())
        }

        for (case in manifest["plans"] as List<*>) {
            val c = m(case)
            val sc = sidecar(c["sidecar"] as String)
            val plan = StateCarrier(sc.states).plan
            val want = Json.parse(File(dir, c["plan"] as String).readText(), c["plan"] as String) as List<*>
            if (want.size != plan.size) { fail("plan ${c["sidecar"]}: ${plan.size} slots, Python has ${want.size}"); continue }
            for ((slot, raw) in plan.zip(want)) {
                val p = m(raw)
                val table = p["requantize_table"] as List<*>?
                val same = slot.input == p["input"] && slot.output == p["output"] && slot.dtype.jsonName == p["dtype"] &&
                    slot.numElements == i(p["elements"]) && slot.zeroValue == i(p["zero"]) &&
                    slot.requantize == p["requantize"] &&
                    (table == null || (slot.requantizeTable != null &&
                        table.indices.all { k -> Quant.byteValue(slot.requantizeTable[k], slot.dtype) == i(table[k]) }))
                if (!same) fail("plan ${c["sidecar"]}: slot ${slot.input} differs from Python's $p")
            }
            println("plan ${c["sidecar"]}: ${plan.size} caches, ${plan.count { it.requantize }} requantized, same as Python")
        }

        for (case in manifest["embedded"] as List<*>) {
            val c = m(case)
            val bytes = TfliteMetadata.extract(File(dir, c["tflite"] as String).readBytes(), TfliteMetadata.SIDECAR_NAME, c["tflite"] as String)
            val want = File(dir, c["json"] as String).readText()
            val same = bytes != null && Json.parse(bytes.toString(Charsets.UTF_8), "embedded") == Json.parse(want, "json") &&
                Sidecar.parse(bytes.toString(Charsets.UTF_8), "embedded") == Sidecar.parse(want, "json")
            if (!same) fail("embedded ${c["tflite"]}: metadata differs from ${c["json"]}")
            else println("embedded ${c["tflite"]}: ${bytes!!.size} bytes of '${TfliteMetadata.SIDECAR_NAME}' metadata equal the .json")
        }

        for (case in manifest["smoothing"] as List<*>) {
            val c = m(case)
            val classes = i(c["classes"])
            val logits = floats(File(dir, c["logits"] as String).readBytes())
            val labels = (c["labels"] as List<*>).map { i(it) }
            val scores = (c["scores"] as List<*>).map { it as Double }
            val smoother = Smoother.of(c["rule"] as String)
            var scoreDiff = 0.0
            var labelMismatch = 0
            for (t in labels.indices) {
                val d = smoother.update(logits.copyOfRange(t * classes, (t + 1) * classes))
                if (d.label != labels[t]) labelMismatch++
                scoreDiff = maxOf(scoreDiff, abs(d.score - scores[t]))
            }
            println("smoothing ${c["rule"]}: ${labels.size} frames, $labelMismatch label mismatches, score max diff $scoreDiff")
            if (labelMismatch > 0 || scoreDiff > 1e-5) fail("smoothing ${c["rule"]}")
            worst("smoothing_score", scoreDiff)
        }

        println((if (failures == 0) "GOLDEN OK" else "GOLDEN FAILED ($failures)") + " " +
            summary.entries.joinToString(" ") { "${it.key}=${it.value}" })
        exitProcess(if (failures == 0) 0 else 1)
    }
}
