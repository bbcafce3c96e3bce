package org.tsmtf.demo

import android.Manifest
import android.app.Activity
import android.content.pm.PackageManager
import android.graphics.Color
import android.graphics.Matrix
import android.graphics.RectF
import android.graphics.SurfaceTexture
import android.os.Bundle
import android.os.Handler
import android.os.HandlerThread
import android.os.Looper
import android.util.Log
import android.view.Gravity
import android.view.Surface
import android.view.TextureView
import android.view.View
import android.view.ViewGroup
import android.widget.Button
import android.widget.FrameLayout
import android.widget.LinearLayout
import android.widget.TextView
import com.google.ai.edge.litert.LiteRtException
import org.tsmtf.demo.core.FpsMeter
import org.tsmtf.demo.core.Recognition
import org.tsmtf.demo.core.RgbImage
import org.tsmtf.demo.core.Smoother
import org.tsmtf.demo.core.StreamRecognizer
import org.tsmtf.demo.core.Stride
import org.tsmtf.demo.core.Yuv
import java.util.concurrent.atomic.AtomicBoolean

/**
 * Live gesture recognition: camera frames (every k-th, k from the model's training stride) go
 * to the streaming TSM on LiteRT off the UI thread; the screen shows the top-3 classes, the
 * smoothed label, inference time, rates, input size and the accelerator asked for.
 * Framework APIs only (no AndroidX), nothing newer than API 23.
 */
class MainActivity : Activity() {
    private val tag = "TsmDemo"
    private val main = Handler(Looper.getMainLooper())
    private val inferenceThread = HandlerThread("inference")
    private lateinit var inference: Handler

    private lateinit var texture: TextureView
    private lateinit var smoothedView: TextView
    private lateinit var topView: TextView
    private lateinit var statsView: TextView
    private lateinit var threadsView: TextView
    private lateinit var acceleratorButton: Button
    private lateinit var smoothingButton: Button

    // Settings, changed on the UI thread and applied on the inference thread.
    @Volatile private var threads = 2
    @Volatile private var accelerator = AcceleratorChoice.CPU
    @Volatile private var smoothing = "reference"

    // Owned by the inference thread.
    @Volatile private var model: ModelAssets? = null
    private var runner: LiteRtRunner? = null
    @Volatile private var recognizer: StreamRecognizer? = null
    private var rgb: RgbImage? = null

    // Camera thread -> inference thread hand-off: one frame in flight, later frames dropped.
    @Volatile private var camera: CameraSource? = null
    private val busy = AtomicBoolean(false)
    private var frame: YuvFrame? = null
    private var frameIndex = 0L
    @Volatile private var stride = 1
    @Volatile private var rotationDegrees = 0
    private val cameraFps = FpsMeter()
    private val fedFps = FpsMeter()
    private val resultFps = FpsMeter() // UI thread
    private var resumed = false

    override fun onCreate(savedInstanceState: Bundle?) {
        super.onCreate(savedInstanceState)
        savedInstanceState?.let {
            threads = it.getInt("threads", threads)
            accelerator = AcceleratorChoice.values()[it.getInt("accelerator", 0)]
            smoothing = it.getString("smoothing") ?: smoothing
        }
        setContentView(buildUi())
        inferenceThread.start()
        inference = Handler(inferenceThread.looper)
        inference.post { openModel() }
    }

    override fun onSaveInstanceState(outState: Bundle) {
        super.onSaveInstanceState(outState)
        outState.putInt("threads", threads)
        outState.putInt("accelerator", accelerator.ordinal)
        outState.putString("smoothing", smoothing)
    }

    override fun onResume() {
        super.onResume()
        resumed = true
        if (checkSelfPermission(Manifest.permission.CAMERA) == PackageManager.PERMISSION_GRANTED) {
            startCameraIfReady()
        } else {
            requestPermissions(arrayOf(Manifest.permission.CAMERA), REQUEST_CAMERA)
        }
    }

    override fun onPause() {
        resumed = false
        camera?.close() // release the camera for other apps
        camera = null
        super.onPause()
    }

    override fun onDestroy() {
        inference.post {
            runner?.close()
            runner = null
        }
        inferenceThread.quitSafely()
        super.onDestroy()
    }

    override fun onRequestPermissionsResult(requestCode: Int, permissions: Array<String>, grantResults: IntArray) {
        if (requestCode != REQUEST_CAMERA) return
        if (grantResults.isNotEmpty() && grantResults[0] == PackageManager.PERMISSION_GRANTED) {
            startCameraIfReady()
        } else {
            showStatus("The camera permission is needed to recognise gestures. Grant it in Settings > Apps > TSM gestures.")
        }
    }

    // -- camera ---------------------------------------------------------------------------

    private fun startCameraIfReady() {
        if (!resumed || camera != null || !texture.isAvailable) return
        if (checkSelfPermission(Manifest.permission.CAMERA) != PackageManager.PERMISSION_GRANTED) return
        val source = CameraSource(this, { image -> onCameraImage(image) }, { msg -> showStatus(msg) })
        val shortSide = model?.sidecar?.preprocess?.resizeShortSide ?: 256
        if (!source.configure(shortSide)) {
            showStatus("No usable camera on this device")
            return
        }
        rotationDegrees = frameRotation(source)
        configureTransform(source)
        stride = currentStride(source.nominalFps)
        frameIndex = 0
        cameraFps.reset()
        fedFps.reset()
        try {
            source.open(texture.surfaceTexture ?: return)
            camera = source
        } catch (e: SecurityException) {
            showStatus("Camera permission was revoked")
        }
    }

    /** Clockwise rotation that makes a sensor frame upright on the current display. */
    private fun frameRotation(source: CameraSource): Int {
        val display = when (windowManager.defaultDisplay.rotation) {
            Surface.ROTATION_90 -> 90
            Surface.ROTATION_180 -> 180
            Surface.ROTATION_270 -> 270
            else -> 0
        }
        return if (source.frontFacing) (source.sensorOrientation + display) % 360
        else (source.sensorOrientation - display + 360) % 360
    }

    /** Rotates and scales the preview so it stays upright and fills the view in any orientation. */
    private fun configureTransform(source: CameraSource) {
        val vw = texture.width.toFloat()
        val vh = texture.height.toFloat()
        if (vw == 0f || vh == 0f) return
        val rotation = windowManager.defaultDisplay.rotation
        val matrix = Matrix()
        val view = RectF(0f, 0f, vw, vh)
        val cx = view.centerX()
        val cy = view.centerY()
        val pw = source.previewSize.width.toFloat()
        val ph = source.previewSize.height.toFloat()
        if (rotation == Surface.ROTATION_90 || rotation == Surface.ROTATION_270) {
            val buffer = RectF(0f, 0f, ph, pw)
            buffer.offset(cx - buffer.centerX(), cy - buffer.centerY())
            matrix.setRectToRect(view, buffer, Matrix.ScaleToFit.FILL)
            val scale = maxOf(vh / ph, vw / pw)
            matrix.postScale(scale, scale, cx, cy)
            matrix.postRotate(if (rotation == Surface.ROTATION_90) 270f else 90f, cx, cy)
        } else if (rotation == Surface.ROTATION_180) {
            matrix.postRotate(180f, cx, cy)
        }
        texture.setTransform(matrix)
    }

    private fun currentStride(fps: Int): Int = model?.let { Stride.forFps(it.sidecar.temporal, fps.toDouble()) } ?: 1

    /** Camera thread: count the frame, keep every k-th one when the model is free. */
    private fun onCameraImage(image: android.media.Image) {
        cameraFps.tick(System.nanoTime())
        val take = frameIndex % stride == 0L
        frameIndex++
        if (!take || recognizer == null || !busy.compareAndSet(false, true)) {
            image.close()
            return
        }
        val f = frame?.takeIf { it.width == image.width && it.height == image.height } ?: YuvFrame(image.width, image.height)
        frame = f
        copyPlanes(image, f)
        fedFps.tick(System.nanoTime())
        inference.post { infer(f) }
    }

    // -- inference thread -----------------------------------------------------------------

    private fun openModel() {
        runner?.close()
        runner = null
        recognizer = null
        try {
            val m = model ?: ModelAssets.load(assets).also { model = it }
            var note = ""
            val r = try {
                LiteRtRunner.open(assets, m.modelName, m.sidecar, accelerator, threads)
            } catch (e: LiteRtException) {
                if (accelerator == AcceleratorChoice.CPU) throw e
                // Options(GPU, CPU) itself failed (no GPU accelerator library or driver): say so, use the CPU.
                Log.w(tag, "GPU compilation failed, falling back to CPU", e)
                note = " GPU unavailable (${e.message}): running on CPU."
                accelerator = AcceleratorChoice.CPU
                main.post { acceleratorButton.text = accelerator.name }
                LiteRtRunner.open(assets, m.modelName, m.sidecar, accelerator, threads)
            }
            runner = r
            recognizer = StreamRecognizer(m.sidecar, r, Smoother.of(smoothing))
            val cam = camera
            if (cam != null) stride = currentStride(cam.nominalFps)
            showStatus("${m.modelName} (${m.sidecar.precision}, sidecar: ${m.sidecarSource}).$note")
        } catch (e: Exception) {
            Log.e(tag, "Cannot load the model", e)
            showStatus("Cannot load the model: ${e.message} (see Logcat tag 'litert')")
        }
    }

    private fun infer(f: YuvFrame) {
        try {
            val rec = recognizer ?: return
            val rotation = rotationDegrees
            val turned = rotation == 90 || rotation == 270
            val w = if (turned) f.height else f.width
            val h = if (turned) f.width else f.height
            val img = rgb?.takeIf { it.width == w && it.height == h } ?: RgbImage(w, h)
            rgb = img
            // YUV -> upright RGB in one pass (converted and rotated together).
            Yuv.toRgb(f.width, f.height, f.y, 0, f.yRowStride, f.yPixelStride, f.u, 0, f.v, 0,
                f.uvRowStride, f.uvPixelStride, img, rotation)
            val result = rec.process(img)
            main.post { showResult(result) }
        } catch (e: Exception) {
            Log.e(tag, "Inference failed", e)
            showStatus("Inference failed: ${e.message}")
        } finally {
            busy.set(false)
        }
    }

    // -- UI ---------------------------------------------------------------------------------

    private fun showResult(r: Recognition) {
        val m = model ?: return
        resultFps.tick(System.nanoTime())
        smoothedView.text = "%s  %.0f%%".format(r.smoothedLabel, 100 * r.smoothedScore)
        topView.text = r.top.joinToString("\n") { "%-28s %5.1f%%".format(it.label, 100 * it.score) }
        val cam = camera
        statsView.text = buildString {
            append("Inference: %.1f ms (preprocess %.1f ms)\n".format(r.inferenceMs, r.preprocessMs))
            append("FPS: %.1f results/s (the model alone: %.0f fps)\n".format(resultFps.fps, 1000.0 / (r.inferenceMs + r.preprocessMs)))
            append("Input fps: %.1f (camera %.1f fps, every %d. frame)\n".format(fedFps.fps, cameraFps.fps, stride))
            append("Input size: %dx%d -> %dx%d %s\n".format(cam?.analysisSize?.width ?: 0, cam?.analysisSize?.height ?: 0,
                m.sidecar.preprocess.cropWidth, m.sidecar.preprocess.cropHeight, m.sidecar.input.dtype.jsonName))
            append("Asked for: ${accelerator.label}, $threads thread(s); smoothing: ${recognizer?.smoother?.rule}")
        }
    }

    private fun showStatus(text: String) {
        main.post { statsView.text = text }
    }

    private fun button(text: String, onClick: () -> Unit) = Button(this).apply {
        this.text = text
        setAllCaps(false) // the isAllCaps getter is API 28
        setOnClickListener { onClick() }
    }

    private fun label(size: Float) = TextView(this).apply {
        textSize = size
        setTextColor(Color.WHITE)
    }

    private fun buildUi(): View {
        texture = TextureView(this)
        texture.surfaceTextureListener = object : TextureView.SurfaceTextureListener {
            override fun onSurfaceTextureAvailable(st: SurfaceTexture, w: Int, h: Int) = startCameraIfReady()
            override fun onSurfaceTextureSizeChanged(st: SurfaceTexture, w: Int, h: Int) {
                camera?.let { configureTransform(it) }
            }
            override fun onSurfaceTextureDestroyed(st: SurfaceTexture): Boolean = true
            override fun onSurfaceTextureUpdated(st: SurfaceTexture) {}
        }
        smoothedView = label(26f)
        topView = label(15f).apply { typeface = android.graphics.Typeface.MONOSPACE }
        statsView = label(13f)
        threadsView = label(15f).apply { text = "Threads: $threads" }
        acceleratorButton = button(accelerator.name) {
            accelerator = if (accelerator == AcceleratorChoice.CPU) AcceleratorChoice.GPU else AcceleratorChoice.CPU
            acceleratorButton.text = accelerator.name
            inference.post { openModel() }
        }
        smoothingButton = button("Smoothing: $smoothing") {
            smoothing = when (smoothing) { "none" -> "mean"; "mean" -> "reference"; else -> "none" }
            smoothingButton.text = "Smoothing: $smoothing"
            inference.post { recognizer?.smoother = Smoother.of(smoothing) }
        }
        val controls = LinearLayout(this).apply {
            orientation = LinearLayout.HORIZONTAL
            setGravity(Gravity.CENTER_VERTICAL) // getGravity is API 24
            addView(button("Reset") { inference.post { recognizer?.reset() } })
            addView(button("-") { setThreads(threads - 1) })
            addView(threadsView)
            addView(button("+") { setThreads(threads + 1) })
            addView(acceleratorButton)
        }
        val panel = LinearLayout(this).apply {
            orientation = LinearLayout.VERTICAL
            setBackgroundColor(Color.argb(170, 0, 0, 0))
            setPadding(24, 16, 24, 16)
            addView(smoothedView)
            addView(topView)
            addView(statsView)
            addView(controls)
            addView(smoothingButton)
        }
        return FrameLayout(this).apply {
            fitsSystemWindows = true
            addView(texture, FrameLayout.LayoutParams(ViewGroup.LayoutParams.MATCH_PARENT, ViewGroup.LayoutParams.MATCH_PARENT))
            addView(panel, FrameLayout.LayoutParams(ViewGroup.LayoutParams.MATCH_PARENT, ViewGroup.LayoutParams.WRAP_CONTENT, Gravity.BOTTOM))
        }
    }

    /** Threads 1-4, applied through CompiledModel.CpuOptions(numThreads) by recompiling the model. */
    private fun setThreads(n: Int) {
        val t = n.coerceIn(1, 4)
        if (t == threads) return
        threads = t
        threadsView.text = "Threads: $t"
        inference.post { openModel() }
    }

    companion object {
        private const val REQUEST_CAMERA = 1
    }
}
