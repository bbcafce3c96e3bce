package org.tsmtf.demo

import android.content.Context
import android.graphics.ImageFormat
import android.graphics.SurfaceTexture
import android.hardware.camera2.CameraAccessException
import android.hardware.camera2.CameraCaptureSession
import android.hardware.camera2.CameraCharacteristics
import android.hardware.camera2.CameraDevice
import android.hardware.camera2.CameraManager
import android.hardware.camera2.CaptureRequest
import android.media.ImageReader
import android.os.Handler
import android.os.HandlerThread
import android.util.Range
import android.util.Size
import android.view.Surface

/** One camera frame's YUV_420_888 planes, copied out of the `Image` so it can be closed at once. */
class YuvFrame(val width: Int, val height: Int) {
    var y = ByteArray(0)
    var u = ByteArray(0)
    var v = ByteArray(0)
    var yRowStride = 0
    var yPixelStride = 1
    var uvRowStride = 0
    var uvPixelStride = 1
    var timestampNanos = 0L
}

/**
 * Camera2 (framework API, level 21+): a preview into a `SurfaceTexture` and YUV_420_888 frames
 * from an `ImageReader`, on a background thread. [onFrame] gets every frame; it returns quickly
 * and decides itself whether to keep it (stride, busy inference).
 */
class CameraSource(
    private val context: Context,
    private val onFrame: (android.media.Image) -> Unit,
    private val onError: (String) -> Unit,
) {
    var sensorOrientation = 0
        private set
    var frontFacing = true
        private set
    var analysisSize = Size(640, 480)
        private set
    var previewSize = Size(640, 480)
        private set
    /** Upper bound of the auto-exposure frame-rate range asked for (the nominal input fps). */
    var nominalFps = 30
        private set

    private var thread: HandlerThread? = null
    private var handler: Handler? = null
    private var device: CameraDevice? = null
    private var session: CameraCaptureSession? = null
    private var reader: ImageReader? = null

    /** Picks the front camera (gestures face the phone) or else the first one, and its sizes. */
    fun configure(minShortSide: Int): Boolean {
        val manager = context.getSystemService(Context.CAMERA_SERVICE) as CameraManager
        val ids = manager.cameraIdList
        if (ids.isEmpty()) return false
        val id = ids.firstOrNull {
            manager.getCameraCharacteristics(it).get(CameraCharacteristics.LENS_FACING) == CameraCharacteristics.LENS_FACING_FRONT
        } ?: ids[0]
        val chars = manager.getCameraCharacteristics(id)
        cameraId = id
        frontFacing = chars.get(CameraCharacteristics.LENS_FACING) == CameraCharacteristics.LENS_FACING_FRONT
        sensorOrientation = chars.get(CameraCharacteristics.SENSOR_ORIENTATION) ?: 0
        val map = chars.get(CameraCharacteristics.SCALER_STREAM_CONFIGURATION_MAP) ?: return false
        val yuvSizes = map.getOutputSizes(ImageFormat.YUV_420_888)?.toList() ?: emptyList()
        // The smallest frame that still covers the model's resize without upscaling.
        analysisSize = yuvSizes.filter { minOf(it.width, it.height) >= minShortSide && it.width * 3 == it.height * 4 }
            .minByOrNull { it.width * it.height }
            ?: yuvSizes.filter { minOf(it.width, it.height) >= minShortSide }.minByOrNull { it.width * it.height }
            ?: yuvSizes.maxByOrNull { it.width * it.height } ?: Size(640, 480)
        val previews = map.getOutputSizes(SurfaceTexture::class.java)?.toList() ?: emptyList()
        previewSize = previews.filter { it.width * analysisSize.height == it.height * analysisSize.width && it.width <= 1280 }
            .maxByOrNull { it.width } ?: analysisSize
        val ranges = chars.get(CameraCharacteristics.CONTROL_AE_AVAILABLE_TARGET_FPS_RANGES) ?: emptyArray()
        fpsRange = ranges.filter { it.upper <= 30 }.maxWithOrNull(compareBy<Range<Int>> { it.upper }.thenBy { it.lower })
        nominalFps = fpsRange?.upper ?: 30
        return true
    }

    private var cameraId: String? = null
    private var fpsRange: Range<Int>? = null

    /** Opens the camera; the caller holds the CAMERA permission. */
    @Throws(SecurityException::class)
    fun open(preview: SurfaceTexture) {
        val id = cameraId ?: return onError("No camera on this device")
        val t = HandlerThread("camera").also { it.start() }
        thread = t
        val h = Handler(t.looper)
        handler = h
        val r = ImageReader.newInstance(analysisSize.width, analysisSize.height, ImageFormat.YUV_420_888, 3)
        r.setOnImageAvailableListener({ rd ->
            val image = rd.acquireLatestImage()
            if (image != null) onFrame(image)
        }, h)
        reader = r
        preview.setDefaultBufferSize(previewSize.width, previewSize.height)
        val previewSurface = Surface(preview)
        val manager = context.getSystemService(Context.CAMERA_SERVICE) as CameraManager
        manager.openCamera(id, object : CameraDevice.StateCallback() {
            override fun onOpened(camera: CameraDevice) {
                device = camera
                startSession(camera, previewSurface, r.surface, h)
            }

            override fun onDisconnected(camera: CameraDevice) {
                camera.close()
                device = null
            }

            override fun onError(camera: CameraDevice, error: Int) {
                camera.close()
                device = null
                onError("Camera error $error (in use by another app?)")
            }
        }, h)
    }

    private fun startSession(camera: CameraDevice, previewSurface: Surface, readerSurface: Surface, h: Handler) {
        try {
            camera.createCaptureSession(listOf(previewSurface, readerSurface), object : CameraCaptureSession.StateCallback() {
                override fun onConfigured(s: CameraCaptureSession) {
                    session = s
                    try {
                        val request = camera.createCaptureRequest(CameraDevice.TEMPLATE_PREVIEW)
                        request.addTarget(previewSurface)
                        request.addTarget(readerSurface)
                        fpsRange?.let { request.set(CaptureRequest.CONTROL_AE_TARGET_FPS_RANGE, it) }
                        s.setRepeatingRequest(request.build(), null, h)
                    } catch (e: CameraAccessException) {
                        onError("Cannot start the camera: ${e.message}")
                    } catch (e: IllegalStateException) {
                        // The camera was closed (onPause) while the session was being configured.
                    }
                }

                override fun onConfigureFailed(s: CameraCaptureSession) = onError("Camera session configuration failed")
            }, h)
        } catch (e: CameraAccessException) {
            onError("Cannot open the camera: ${e.message}")
        }
    }

    /** Releases the camera (called from onPause, so other apps get it back). */
    fun close() {
        session?.close()
        session = null
        device?.close()
        device = null
        reader?.close()
        reader = null
        thread?.quitSafely()
        thread = null
        handler = null
    }
}

/** Copies an `Image`'s planes into [frame]'s arrays (reused when large enough), then closes the image. */
fun copyPlanes(image: android.media.Image, frame: YuvFrame) {
    try {
        val planes = image.planes
        fun copy(i: Int, old: ByteArray): ByteArray {
            val buf = planes[i].buffer
            buf.rewind()
            val out = if (old.size == buf.remaining()) old else ByteArray(buf.remaining())
            buf.get(out)
            return out
        }
        frame.y = copy(0, frame.y)
        frame.u = copy(1, frame.u)
        frame.v = copy(2, frame.v)
        frame.yRowStride = planes[0].rowStride
        frame.yPixelStride = planes[0].pixelStride
        frame.uvRowStride = planes[1].rowStride
        frame.uvPixelStride = planes[1].pixelStride
        frame.timestampNanos = image.timestamp
    } finally {
        image.close()
    }
}
