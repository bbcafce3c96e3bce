// COMPILE-ONLY STAND-IN for LiteRT 2.x (com.google.ai.edge.litert), see ../../../../../README.md.
// Signatures mirror the published Kotlin API (v2.2.0 LiteRtException.kt); Status lists only
// some of the published codes. Never packaged.
package com.google.ai.edge.litert

class LiteRtException(private val status: Status, message: String) : Exception(message) {
    constructor(code: Int, message: String) : this(Status.fromCode(code), message)
}

enum class Status(val code: Int) {
    Ok(0),
    ErrorInvalidArgument(1),
    ErrorNotFound(6),
    ErrorCompilation(504);

    companion object {
        fun fromCode(code: Int): Status = values().first { it.code == code }
    }
}
