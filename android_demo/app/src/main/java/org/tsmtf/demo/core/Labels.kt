package org.tsmtf.demo.core

/** One ranked class: index, name and probability. */
data class Ranked(val index: Int, val label: String, val score: Float)

/** Maps class indices to the sidecar's label names and ranks probabilities. */
class Labels(val names: List<String>) {
    /** The name of class [index], or `class N` when the list is shorter. */
    fun name(index: Int): String = names.getOrNull(index) ?: "class $index"

    /** The [k] most probable classes, best first; equal scores keep the lower index first. */
    fun top(probabilities: FloatArray, k: Int = 3): List<Ranked> =
        probabilities.indices.sortedWith(compareByDescending<Int> { probabilities[it] }.thenBy { it })
            .take(k).map { Ranked(it, name(it), probabilities[it]) }
}
