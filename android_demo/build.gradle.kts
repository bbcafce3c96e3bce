// Android Gradle plugin 9 compiles Kotlin itself (built-in Kotlin): no Kotlin plugin to apply.
plugins {
    id("com.android.application") version "9.0.0" apply false
}
