package org.tsmtf.demo.core

/**
 * Which camera frames to feed: the model learnt motion at one frame every
 * `train_frame_stride` source frames (or every `train_stride_seconds`), so at [fps] the
 * recognizer takes every k-th frame.
 */
object Stride {
    fun forFps(temporal: TemporalSpec, fps: Double?): Int {
        val seconds = temporal.trainStrideSeconds
        val k = if (seconds != null && fps != null && fps > 0) Math.rint(seconds * fps) else Math.rint(temporal.trainFrameStride)
        return maxOf(1, k.toInt())
    }
}

/** Frames per second over a sliding window of the last [window] timestamps (nanoseconds). */
class FpsMeter(private val window: Int = 30) {
    private val times = LongArray(window)
    private var count = 0

    fun tick(nanos: Long) {
        times[count % window] = nanos
        count++
    }

    fun reset() {
        count = 0
    }

    /** Rate over the window, 0 until two ticks were seen. */
    val fps: Double
        get() {
            val n = minOf(count, window)
            if (n < 2) return 0.0
            val newest = times[(count - 1) % window]
            val oldest = times[(count - n) % window]
            return if (newest > oldest) (n - 1) * 1e9 / (newest - oldest) else 0.0
        }
}
