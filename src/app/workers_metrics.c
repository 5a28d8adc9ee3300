#include "app/workers_metrics.h"

#include <event2/buffer.h>
#include <stdlib.h>
#include <string.h>

/* One metric family of the merged text: its HELP and TYPE lines (pointing into the
 * first worker's text that had them) and every worker's samples, relabelled. */
struct family {
    char *name;
    const char *help, *type;
    size_t help_len, type_len;
    struct evbuffer *samples;
};

struct families {
    struct family *f;
    int n, cap;
};

static struct family *family_get(struct families *fs, const char *name, size_t len) {
    for (int i = 0; i < fs->n; i++)
        if (strlen(fs->f[i].name) == len && memcmp(fs->f[i].name, name, len) == 0)
            return &fs->f[i];
    if (fs->n == fs->cap) {
        int cap = fs->cap ? 2 * fs->cap : 32;
        struct family *f = realloc(fs->f, (size_t)cap * sizeof *f);
        if (!f) return NULL;
        fs->f = f;
        fs->cap = cap;
    }
    struct family *f = &fs->f[fs->n];
    *f = (struct family){ strndup(name, len), NULL, NULL, 0, 0, evbuffer_new() };
    if (!f->name || !f->samples) {
        free(f->name);
        if (f->samples) evbuffer_free(f->samples);
        return NULL;
    }
    fs->n++;
    return f;
}

/* "# HELP name ..." or "# TYPE name ...": the family it names, its line recorded. */
static struct family *family_comment(struct families *fs, const char *p, size_t len) {
    int help = strncmp(p, "# HELP ", 7) == 0;
    if (len < 8 || (!help && strncmp(p, "# TYPE ", 7) != 0)) return NULL;
    const char *name = p + 7, *end = memchr(name, ' ', len - 7);
    struct family *f = family_get(fs, name, end ? (size_t)(end - name) : len - 7);
    if (f && help && !f->help) f->help = p, f->help_len = len;
    if (f && !help && !f->type) f->type = p, f->type_len = len;
    return f;
}

/* name{a="b"} 1 -> name{worker="i",a="b"} 1; name 1 -> name{worker="i"} 1. */
static void family_sample(struct family *f, int worker, const char *p, size_t len,
                          size_t name_len) {
    const char *rest = p + name_len;
    size_t rest_len = len - name_len;
    evbuffer_add(f->samples, p, name_len);
    evbuffer_add_printf(f->samples, "{worker=\"%d\"", worker);
    if (rest_len && *rest == '{') {
        rest++, rest_len--;
        if (rest_len && *rest != '}') evbuffer_add(f->samples, ",", 1);
    } else {
        evbuffer_add(f->samples, "}", 1);
    }
    evbuffer_add(f->samples, rest, rest_len);
    evbuffer_add(f->samples, "\n", 1);
}

static void merge_one(struct families *fs, const struct workers_metrics_text *t) {
    const char *p = t->text, *end = t->text + t->len;
    struct family *cur = NULL;
    while (p < end) {
        const char *eol = memchr(p, '\n', (size_t)(end - p));
        size_t len = eol ? (size_t)(eol - p) : (size_t)(end - p);
        if (len && *p == '#') {
            struct family *f = family_comment(fs, p, len);
            if (f) cur = f;
        } else if (len) {
            size_t n = 0;
            while (n < len && p[n] != '{' && p[n] != ' ') n++;
            /* samples follow their family's TYPE line (histograms add suffixes) */
            size_t cl = cur ? strlen(cur->name) : 0;
            struct family *f = cur && n >= cl && memcmp(p, cur->name, cl) == 0
                               ? cur : family_get(fs, p, n);
            if (f) family_sample(f, t->worker, p, len, n);
        }
        p += len + 1;
    }
}

void workers_metrics_merge(const struct workers_metrics_text *texts, int n,
                           struct evbuffer *out) {
    struct families fs = { NULL, 0, 0 };
    for (int i = 0; i < n; i++) merge_one(&fs, &texts[i]);
    for (int i = 0; i < fs.n; i++) {
        struct family *f = &fs.f[i];
        if (f->help) evbuffer_add(out, f->help, f->help_len), evbuffer_add(out, "\n", 1);
        if (f->type) evbuffer_add(out, f->type, f->type_len), evbuffer_add(out, "\n", 1);
        evbuffer_add_buffer(out, f->samples);
        evbuffer_free(f->samples);
        free(f->name);
    }
    free(fs.f);
}
