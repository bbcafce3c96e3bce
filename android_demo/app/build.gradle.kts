plugins {
    id("com.android.application")
}

// LiteRT 2.3.x: the current release line, CompiledModel with named buffers; its AARs declare
// minSdk 24. From 2.3.0 the GPU accelerator is the separate litert-gpu artifact.
val litertVersion = "2.3.0"

android {
    namespace = "org.tsmtf.demo"
    compileSdk = 36

    defaultConfig {
        applicationId = "org.tsmtf.demo"
        minSdk = 24
        targetSdk = 36
        versionCode = 1
        versionName = "0.1.0"
    }

    buildTypes {
        release {
            isMinifyEnabled = false
        }
    }

    compileOptions {
        sourceCompatibility = JavaVersion.VERSION_17
        targetCompatibility = JavaVersion.VERSION_17
    }

    androidResources {
        // Keep the model stored, so it can also be memory-mapped.
        noCompress += "tflite"
    }
}

dependencies {
    implementation("com.google.ai.edge.litert:litert:$litertVersion")
    implementation("com.google.ai.edge.litert:litert-gpu:$litertVersion")
    // The plain-JVM logic's tests (app/src/test), run here by tools/jvm-check.sh.
    testImplementation("junit:junit:4.13.2")
}
