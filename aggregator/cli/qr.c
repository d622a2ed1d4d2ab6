/* qr.c: QR codes of short links for `actiongap links --qr DIR` — one PNG
 * (libpng, 8 pixels a module) and one SVG (a path of squares) per link,
 * encoded by libqrencode with a 4-module quiet zone. */
#include "cli.h"

#include <errno.h>
#include <png.h>
#include <qrencode.h>
#include <stdlib.h>
#include <string.h>

#define SCALE 8
#define QUIET 4

/* Writes the PNG of q into path. Returns 0, or -1 (printed). */
static int write_png(const char *path, const QRcode *q)
{
    int side = (q->width + 2 * QUIET) * SCALE;
    FILE *f = fopen(path, "wb");
    png_structp png = f ? png_create_write_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL) : NULL;
    png_infop info = png ? png_create_info_struct(png) : NULL;
    unsigned char *row = malloc((size_t)side);
    int rc = -1;
    if (!f || !png || !info || !row)
        goto done;
    if (setjmp(png_jmpbuf(png)))
        goto done;
    png_init_io(png, f);
    png_set_IHDR(png, info, (png_uint_32)side, (png_uint_32)side, 8, PNG_COLOR_TYPE_GRAY,
                 PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
    png_write_info(png, info);
    for (int y = 0; y < side; y++) {
        int my = y / SCALE - QUIET;
        for (int x = 0; x < side; x++) {
            int mx = x / SCALE - QUIET;
            int dark = mx >= 0 && my >= 0 && mx < q->width && my < q->width &&
                       (q->data[my * q->width + mx] & 1);
            row[x] = dark ? 0 : 255;
        }
        png_write_row(png, row);
    }
    png_write_end(png, NULL);
    rc = 0;
done:
    if (png)
        png_destroy_write_struct(&png, info ? &info : NULL);
    free(row);
    if (f && fclose(f) != 0)
        rc = -1;
    if (rc < 0)
        fprintf(stderr, "actiongap: links: cannot write %s: %s\n", path, f ? "libpng failed" : strerror(errno));
    return rc;
}

/* Writes the SVG of q into path. Returns 0, or -1 (printed). */
static int write_svg(const char *path, const QRcode *q)
{
    int side = q->width + 2 * QUIET;
    FILE *f = fopen(path, "w");
    if (!f) {
        fprintf(stderr, "actiongap: links: cannot write %s: %s\n", path, strerror(errno));
        return -1;
    }
    fprintf(f, "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 %d %d\" width=\"%d\" "
               "height=\"%d\" shape-rendering=\"crispEdges\">\n<rect width=\"%d\" height=\"%d\" "
               "fill=\"#fff\"/>\n<path fill=\"#000\" d=\"", side, side, side * SCALE, side * SCALE,
            side, side);
    for (int y = 0; y < q->width; y++)
        for (int x = 0; x < q->width; x++)
            if (q->data[y * q->width + x] & 1)
                fprintf(f, "M%d %dh1v1h-1z", x + QUIET, y + QUIET);
    fputs("\"/>\n</svg>\n", f);
    if (fclose(f) != 0) {
        fprintf(stderr, "actiongap: links: cannot write %s: %s\n", path, strerror(errno));
        return -1;
    }
    return 0;
}

/* Writes DIR/NAME.png and DIR/NAME.svg, the QR code of text. Returns 0, or -1 (printed). */
int cli_qr_write(const char *dir, const char *name, const char *text)
{
    char path[4096];
    QRcode *q = QRcode_encodeString(text, 0, QR_ECLEVEL_M, QR_MODE_8, 1);
    if (!q) {
        fprintf(stderr, "actiongap: links: cannot encode a QR code of %s: %s\n", text, strerror(errno));
        return -1;
    }
    snprintf(path, sizeof path, "%s/%s.png", dir, name);
    int rc = write_png(path, q);
    snprintf(path, sizeof path, "%s/%s.svg", dir, name);
    if (rc == 0)
        rc = write_svg(path, q);
    QRcode_free(q);
    return rc;
}
