package org.tsmtf.demo.core

import org.junit.Assert.assertEquals
import org.junit.Assert.assertNull
import org.junit.Assert.assertTrue
import org.junit.Assert.fail
import org.junit.Test

class JsonTest {
    @Test
    fun parsesNestedValues() {
        val v = Json.parse("""{"a": [1, -2.5e3, true, false, null], "b": {"c": "x"}, "d": 0}""") as Map<*, *>
        assertEquals(listOf(1.0, -2500.0, true, false, null), v["a"])
        assertEquals(mapOf("c" to "x"), v["b"])
        assertEquals(0.0, v["d"])
        assertEquals(listOf("a", "b", "d"), v.keys.toList()) // order kept
    }

    @Test
    fun decodesEscapes() {
        assertEquals("q\"b\\s/\n\t\u00e9\u4e2d", Json.parse(""""q\"b\\s\/\n\t\u00e9\u4e2d""""))
        assertEquals("déjà", Json.parse("\"déjà\""))
    }

    @Test
    fun emptyContainersAndWhitespace() {
        assertEquals(emptyMap<String, Any?>(), Json.parse(" {\n} "))
        assertEquals(emptyList<Any?>(), Json.parse("[ ]"))
        assertNull(Json.parse("null"))
    }

    @Test
    fun rejectsInvalidJsonNamingTheSource() {
        for (bad in listOf("{\"a\": 1,}", "[1 2]", "NaN", "{\"a\" 1}", "\"open", "[1] x", "-", "01x", "{'a': 1}", "")) {
            try {
                Json.parse(bad, "m.json")
                fail("accepted $bad")
            } catch (e: IllegalArgumentException) {
                assertTrue(e.message!!, e.message!!.startsWith("m.json is not valid JSON"))
            }
        }
    }
}
