package org.tsmtf.demo.core

import java.util.Random

/**
 * Per-frame cost of the app's JVM work on this machine: NV21 -> RGB, rotation, resize + crop,
 * quantization into the input buffer, state carrying (MobileNetV2's ten caches at 224, int8)
 * and smoothing. A JIT-warmed desktop JVM, so a phone is slower; ratios between steps carry over.
 * Usage: PreprocessBench [frames]
 */
object PreprocessBench {
    @JvmStatic
    fun main(args: Array<String>) {
        val frames = args.getOrNull(0)?.toInt() ?: 200
        val w = 640
        val h = 480
        val rnd = Random(1)
        val nv21 = ByteArray(w * h * 3 / 2) { rnd.nextInt(256).toByte() }
        val input = InputSpec("image", listOf(1, 224, 224, 3), DType.INT8, QuantParams(0.0187, -14), IMAGENET_MEAN, IMAGENET_STD)
        val pre = Preprocessor(input, PreprocessSpec(256, 224, 224))
        // The reference online MobileNetV2's cache shapes at 224x224.
        val shapes = listOf(listOf(1, 56, 56, 3), listOf(1, 28, 28, 4), listOf(1, 28, 28, 4), listOf(1, 14, 14, 8),
            listOf(1, 14, 14, 8), listOf(1, 14, 14, 8), listOf(1, 14, 14, 12), listOf(1, 14, 14, 12),
            listOf(1, 7, 7, 20), listOf(1, 7, 7, 20))
        val q = QuantParams(0.02, -3)
        val states = shapes.mapIndexed { i, s -> StateSpec("state_$i", "state_$i", s, DType.INT8, q, q, false) }
        val carrier = StateCarrier(states)
        val tensors = HashMap<String, ByteArray>()
        val runner = object : TensorRunner {
            override fun writeFloat(name: String, values: FloatArray) {}
            override fun writeInt8(name: String, values: ByteArray) { tensors[name] = values }
            override fun readFloat(name: String) = FloatArray(0)
            override fun readInt8(name: String) = tensors.getValue(name).copyOf()
            override fun run() {}
        }
        carrier.reset(runner)
        val smoother = ReferenceSmoother()
        val logits = FloatArray(27) { rnd.nextFloat() }
        val rgb = RgbImage(w, h)
        val rotated = RgbImage(h, w)
        val out = ByteArray(pre.numElements)
        val t = DoubleArray(5)
        repeat(2) { pass ->
            t.fill(0.0)
            for (i in 0 until frames) {
                val t0 = System.nanoTime()
                Yuv.nv21ToRgb(nv21, w, h, rgb)
                val t1 = System.nanoTime()
                val upright = Yuv.nv21ToRgb(nv21, w, h, rotated, 270) // what the app does
                val t2 = System.nanoTime()
                pre.toBytes(pre.crop(upright), out)
                val t3 = System.nanoTime()
                carrier.carry(runner)
                val t4 = System.nanoTime()
                smoother.update(logits)
                val t5 = System.nanoTime()
                t[0] += (t1 - t0) / 1e6; t[1] += (t2 - t1) / 1e6; t[2] += (t3 - t2) / 1e6; t[3] += (t4 - t3) / 1e6; t[4] += (t5 - t4) / 1e6
            }
            if (pass == 1) {
                val names = listOf("nv21->rgb 640x480", "nv21->rgb rotated 270 (app)", "resize+crop+quantize 224 int8", "carry 10 caches", "smoothing (reference)")
                for (k in names.indices) println("%-32s %.3f ms/frame".format(names[k], t[k] / frames))
                println("%-32s %.3f ms/frame".format("app total (all but the first)", (t.sum() - t[0]) / frames))
            }
        }
    }
}
