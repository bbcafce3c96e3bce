package org.tsmtf.demo

import android.content.res.AssetManager
import org.tsmtf.demo.core.Sidecar
import org.tsmtf.demo.core.TfliteMetadata
import java.io.FileNotFoundException

/** The model in `assets/` (put there by `android_demo/import_model.sh`) and its sidecar. */
class ModelAssets(val modelName: String, val sidecar: Sidecar, val sidecarSource: String) {
    companion object {
        const val HINT = "Run android_demo/import_model.sh MODEL.tflite, then rebuild the app."

        /** Finds the one `.tflite` in the assets' root and reads `NAME.json` or its embedded sidecar. */
        fun load(assets: AssetManager): ModelAssets {
            val names = (assets.list("") ?: emptyArray()).filter { it.endsWith(".tflite") }.sorted()
            if (names.isEmpty()) throw IllegalStateException("No .tflite model in the app's assets. $HINT")
            if (names.size > 1) throw IllegalStateException("Several models in the assets ($names): keep one. $HINT")
            val model = names[0]
            val json = model.removeSuffix(".tflite") + ".json"
            val text = try {
                assets.open(json).use { it.readBytes() }.toString(Charsets.UTF_8)
            } catch (e: FileNotFoundException) {
                null
            }
            if (text != null) return ModelAssets(model, Sidecar.parse(text, json), json)
            val bytes = assets.open(model).use { it.readBytes() }
            val embedded = TfliteMetadata.extract(bytes, TfliteMetadata.SIDECAR_NAME, model)
                ?: throw IllegalStateException("$model has no $json beside it and no embedded '${TfliteMetadata.SIDECAR_NAME}' metadata. $HINT")
            return ModelAssets(model, Sidecar.parse(embedded.toString(Charsets.UTF_8), "$model (embedded)"), "$model (embedded)")
        }
    }
}
