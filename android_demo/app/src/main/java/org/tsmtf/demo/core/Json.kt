package org.tsmtf.demo.core

/**
 * A minimal JSON reader (RFC 8259) for the model sidecar, so the app's logic needs no library:
 * objects become [Map] (insertion order kept), arrays [List], numbers [Double], and
 * strings, booleans and null map to Kotlin's. Plain JVM code (org.json is Android-only).
 */
object Json {
    /** Parses [text]; throws [IllegalArgumentException] naming [source] and the offset. */
    fun parse(text: String, source: String = "JSON"): Any? {
        val reader = Reader(text, source)
        reader.skipSpace()
        val value = reader.value()
        reader.skipSpace()
        if (!reader.atEnd()) reader.fail("unexpected trailing text")
        return value
    }

    private class Reader(val text: String, val source: String) {
        var pos = 0

        fun atEnd(): Boolean = pos >= text.length

        fun fail(what: String): Nothing =
            throw IllegalArgumentException("$source is not valid JSON: $what at offset $pos")

        fun skipSpace() {
            while (pos < text.length && text[pos] in " \t\r\n") pos++
        }

        fun expect(word: String) {
            if (!text.startsWith(word, pos)) fail("expected '$word'")
            pos += word.length
        }

        fun value(): Any? {
            if (atEnd()) fail("unexpected end")
            return when (text[pos]) {
                '{' -> obj()
                '[' -> array()
                '"' -> string()
                't' -> { expect("true"); true }
                'f' -> { expect("false"); false }
                'n' -> { expect("null"); null }
                else -> number()
            }
        }

        fun obj(): Map<String, Any?> {
            val out = LinkedHashMap<String, Any?>()
            pos++ // {
            skipSpace()
            if (!atEnd() && text[pos] == '}') { pos++; return out }
            while (true) {
                skipSpace()
                if (atEnd() || text[pos] != '"') fail("expected a member name")
                val key = string()
                skipSpace()
                if (atEnd() || text[pos] != ':') fail("expected ':'")
                pos++
                skipSpace()
                out[key] = value()
                skipSpace()
                if (atEnd()) fail("unterminated object")
                when (text[pos]) {
                    ',' -> pos++
                    '}' -> { pos++; return out }
                    else -> fail("expected ',' or '}'")
                }
            }
        }

        fun array(): List<Any?> {
            val out = ArrayList<Any?>()
            pos++ // [
            skipSpace()
            if (!atEnd() && text[pos] == ']') { pos++; return out }
            while (true) {
                skipSpace()
                out.add(value())
                skipSpace()
                if (atEnd()) fail("unterminated array")
                when (text[pos]) {
                    ',' -> pos++
                    ']' -> { pos++; return out }
                    else -> fail("expected ',' or ']'")
                }
            }
        }

        fun string(): String {
            val sb = StringBuilder()
            pos++ // opening quote
            while (true) {
                if (atEnd()) fail("unterminated string")
                val c = text[pos++]
                when {
                    c == '"' -> return sb.toString()
                    c == '\\' -> {
                        if (atEnd()) fail("unterminated escape")
                        when (val e = text[pos++]) {
                            '"', '\\', '/' -> sb.append(e)
                            'b' -> sb.append('\b')
                            'f' -> sb.append('\u000C')
                            'n' -> sb.append('\n')
                            'r' -> sb.append('\r')
                            't' -> sb.append('\t')
                            'u' -> {
                                if (pos + 4 > text.length) fail("short \\u escape")
                                val hex = text.substring(pos, pos + 4)
                                val code = hex.toIntOrNull(16) ?: fail("bad \\u escape '$hex'")
                                sb.append(code.toChar())
                                pos += 4
                            }
                            else -> fail("bad escape '\\$e'")
                        }
                    }
                    c < ' ' -> fail("control character in string")
                    else -> sb.append(c)
                }
            }
        }

        fun number(): Double {
            val start = pos
            if (pos < text.length && text[pos] == '-') pos++
            while (pos < text.length && (text[pos].isDigit() || text[pos] in ".eE+-")) pos++
            val token = text.substring(start, pos)
            if (token.isEmpty() || token == "-" || !token.last().isDigit()) {
                pos = start
                fail("unexpected character '${text[start]}'")
            }
            // NaN/Infinity are not JSON; toDouble would accept them, the loop above does not.
            return token.toDoubleOrNull() ?: run { pos = start; fail("bad number '$token'") }
        }
    }
}
