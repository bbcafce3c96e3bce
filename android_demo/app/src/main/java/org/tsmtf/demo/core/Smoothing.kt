package org.tsmtf.demo.core

import kotlin.math.exp

/** A smoothed decision: class index and its softmax probability. */
data class Decision(val label: Int, val score: Float)

/**
 * Temporal smoothing of per-frame logits, the rules of the Python runtime
 * (`tsm_tf.runtime.smoothing`): `none`, `mean[:K]` (argmax of the mean of the last K logit
 * vectors, K = 8) and `reference[:K]` (the reference online demo: the window prediction is the
 * argmax of the last K = 12 logit vectors' sum and becomes the output, unless the output changed
 * on the previous frame: then the output is held for this frame; the first is taken as it is).
 */
abstract class Smoother {
    abstract val rule: String
    abstract fun update(logits: FloatArray): Decision
    open fun reset() {}

    companion object {
        const val DEFAULT_MEAN_WINDOW = 8
        const val REFERENCE_WINDOW = 12

        /** Parses `none`, `mean`, `mean:K`, `reference`, `reference:K`. */
        fun of(rule: String): Smoother {
            val text = rule.trim().lowercase()
            val name = text.substringBefore(':')
            val window = if (':' in text) text.substringAfter(':') else ""
            val k = if (window.isEmpty()) null else window.toIntOrNull()
            if ((window.isNotEmpty() && (k == null || k < 1 || !window.all { it.isDigit() })) ||
                (name == "none" && window.isNotEmpty()) || name !in listOf("none", "mean", "reference")) {
                throw IllegalArgumentException("Unknown smoothing '$rule': use none, mean, mean:K, reference or reference:K")
            }
            return when (name) {
                "none" -> NoSmoothing()
                "mean" -> MeanSmoother(k ?: DEFAULT_MEAN_WINDOW)
                else -> ReferenceSmoother(k ?: REFERENCE_WINDOW)
            }
        }
    }
}

/** Index of the largest value, the first one on ties (numpy's argmax). */
fun argmax(values: FloatArray): Int {
    var best = 0
    for (i in 1 until values.size) if (values[i] > values[best]) best = i
    return best
}

/** Softmax in float32, shifted by the max. */
fun softmax(logits: FloatArray): FloatArray {
    val max = logits.maxOrNull() ?: return FloatArray(0)
    val e = FloatArray(logits.size) { exp(logits[it] - max) }
    var sum = 0f
    for (v in e) sum += v
    for (i in e.indices) e[i] = e[i] / sum
    return e
}

class NoSmoothing : Smoother() {
    override val rule = "none"
    override fun update(logits: FloatArray): Decision {
        val label = argmax(logits)
        return Decision(label, softmax(logits)[label])
    }
}

/** The last [window] logit vectors in a ring; [push] returns their mean (summed in slot order). */
abstract class WindowSmoother(val window: Int) : Smoother() {
    private var buffer: Array<FloatArray> = emptyArray()
    private var count = 0

    init {
        require(window >= 1) { "The smoothing window must be >= 1, got $window" }
    }

    override fun reset() {
        count = 0
    }

    protected fun push(logits: FloatArray): FloatArray {
        if (buffer.isEmpty() || buffer[0].size != logits.size) {
            buffer = Array(window) { FloatArray(logits.size) }
            count = 0
        }
        logits.copyInto(buffer[count % window])
        count++
        val filled = minOf(count, window)
        val mean = FloatArray(logits.size)
        for (slot in 0 until filled) for (c in mean.indices) mean[c] += buffer[slot][c]
        for (c in mean.indices) mean[c] = mean[c] / filled.toFloat()
        return mean
    }
}

class MeanSmoother(window: Int = DEFAULT_MEAN_WINDOW) : WindowSmoother(window) {
    override val rule = "mean:$window"
    override fun update(logits: FloatArray): Decision {
        val mean = push(logits)
        val label = argmax(mean)
        return Decision(label, softmax(mean)[label])
    }
}

class ReferenceSmoother(window: Int = REFERENCE_WINDOW) : WindowSmoother(window) {
    override val rule = "reference:$window"
    private var last = -1   // the latest output (the demo's history[-1])
    private var before = -1 // the one before it (history[-2])

    override fun reset() {
        super.reset()
        last = -1
        before = -1
    }

    override fun update(logits: FloatArray): Decision {
        val mean = push(logits) // argmax of the mean = argmax of the sum
        var output = argmax(mean)
        if (last < 0) {
            last = output // the first prediction is taken: history [p, p]
        } else if (output != last && last != before) {
            output = last // the output just changed: hold it for this frame
        }
        before = last
        last = output
        return Decision(output, softmax(mean)[output])
    }
}
