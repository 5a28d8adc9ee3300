#include "ingress/ws_discovery.h"

#include <string.h>

#include "test.h"

static const char ok_body[] =
    "{\"code\":0,\"msg\":\"ok\",\"data\":{"
    "\"URL\":\"wss://msg-frontier.feishu.cn/ws/v2?fpid=493&aid=552564&device_id=7312&"
    "access_key=SECRETKEY&service_id=33554678&ticket=SECRETTICKET\","
    "\"ClientConfig\":{\"ReconnectCount\":-1,\"ReconnectInterval\":120,"
    "\"ReconnectNonce\":30,\"PingInterval\":90}}}";

static int classify(int status, const char *body, char *why, size_t len) {
    struct ws_endpoint ep;
    int cls = ws_discovery_parse(status, body, strlen(body), &ep, why, len);
    ws_discovery_endpoint_free(&ep);
    return cls;
}

static void test_ok(void) {
    struct ws_endpoint ep;
    char why[256] = "";
    CHECK_EQ_INT(ws_discovery_parse(200, ok_body, strlen(ok_body), &ep, why, sizeof why),
                 WS_DISCOVERY_OK);
    CHECK_EQ_STR(ep.host, "msg-frontier.feishu.cn");
    CHECK_EQ_STR(ep.device_id, "7312");
    CHECK_EQ_INT(ep.service_id, 33554678);
    CHECK_CONTAINS(ep.url, "ticket=SECRETTICKET");
    CHECK_EQ_INT(ep.has_config, 1);
    CHECK_EQ_INT(ep.config.ping_interval, 90);
    CHECK_EQ_INT(ep.config.reconnect_interval, 120);
    CHECK_EQ_INT(ep.config.reconnect_nonce, 30);
    CHECK_EQ_INT(ep.config.reconnect_count, -1);
    ws_discovery_endpoint_free(&ep);
    CHECK(ep.url == NULL);
}

static void test_busy(void) {
    char why[256];
    CHECK_EQ_INT(classify(200, "{\"code\":1,\"msg\":\"system busy\"}", why, sizeof why),
                 WS_DISCOVERY_BUSY);
    CHECK_CONTAINS(why, "code 1");
    CHECK_CONTAINS(why, "system busy");
    CHECK_EQ_INT(classify(200, "{\"code\":1000040343,\"msg\":\"internal\"}", why, sizeof why),
                 WS_DISCOVERY_BUSY);
    CHECK_EQ_INT(classify(502, "<html>bad gateway</html>", why, sizeof why), WS_DISCOVERY_BUSY);
    CHECK_CONTAINS(why, "HTTP 502");
    CHECK_EQ_INT(classify(503, "{\"code\":0}", why, sizeof why), WS_DISCOVERY_BUSY);
    CHECK_EQ_INT(classify(200, "not json", why, sizeof why), WS_DISCOVERY_BUSY);
    CHECK_EQ_INT(classify(200, "{\"code\":0,\"data\":{}}", why, sizeof why), WS_DISCOVERY_BUSY);
    CHECK_EQ_INT(classify(200, "{\"code\":0,\"data\":{\"URL\":\"ftp://x\"}}", why, sizeof why),
                 WS_DISCOVERY_BUSY);
}

static void test_client_errors(void) {
    char why[256];
    CHECK_EQ_INT(classify(200, "{\"code\":514,\"msg\":\"auth failed\"}", why, sizeof why),
                 WS_DISCOVERY_CLIENT_ERROR);
    CHECK_CONTAINS(why, "514");
    CHECK_CONTAINS(why, "app_secret");
    CHECK_EQ_INT(classify(200, "{\"code\":403,\"msg\":\"forbidden\"}", why, sizeof why),
                 WS_DISCOVERY_CLIENT_ERROR);
    CHECK_EQ_INT(classify(200, "{\"code\":1000040350,\"msg\":\"limit\"}", why, sizeof why),
                 WS_DISCOVERY_CLIENT_ERROR);
    CHECK_CONTAINS(why, "too many connections");
    CHECK_EQ_INT(classify(200, "{\"code\":99,\"msg\":\"\\u0007odd\\nline\"}", why, sizeof why),
                 WS_DISCOVERY_CLIENT_ERROR);
    CHECK(!strchr(why, '\n') && !strchr(why, '\a'));    /* platform text is sanitised */
}

static void test_missing_ids(void) {
    const char *body = "{\"code\":0,\"data\":{\"URL\":\"ws://127.0.0.1:9/ws?service_id=x\"}}";
    struct ws_endpoint ep;
    char why[64];
    CHECK_EQ_INT(ws_discovery_parse(200, body, strlen(body), &ep, why, sizeof why),
                 WS_DISCOVERY_OK);
    CHECK_EQ_STR(ep.device_id, "");
    CHECK_EQ_INT(ep.service_id, 0);
    CHECK_EQ_INT(ep.has_config, 0);
    ws_discovery_endpoint_free(&ep);
}

static void test_client_config(void) {
    struct ws_client_config cc;
    ws_discovery_config_default(&cc);
    CHECK_EQ_INT(cc.ping_interval, 120);
    CHECK_EQ_INT(cc.reconnect_count, -1);
    const char *pong = "{\"PingInterval\":1,\"ReconnectInterval\":0,\"ReconnectNonce\":-5}";
    CHECK_EQ_INT(ws_discovery_config_parse(&cc, pong, strlen(pong)), 3);
    CHECK_EQ_INT(cc.ping_interval, 1);
    CHECK_EQ_INT(cc.reconnect_interval, 1);      /* 0 would hammer: clamped */
    CHECK_EQ_INT(cc.reconnect_nonce, 0);
    CHECK_EQ_INT(cc.reconnect_count, -1);        /* absent: kept */
    const char *huge = "{\"PingInterval\":1e12,\"ReconnectCount\":3}";
    CHECK_EQ_INT(ws_discovery_config_parse(&cc, huge, strlen(huge)), 2);
    CHECK_EQ_INT(cc.ping_interval, 3600);
    CHECK_EQ_INT(cc.reconnect_count, 3);
    CHECK_EQ_INT(ws_discovery_config_parse(&cc, "[1]", 3), -1);
    CHECK_EQ_INT(ws_discovery_config_parse(&cc, "{\"x\":1}", 7), 0);
}

int main(void) {
    RUN(test_ok);
    RUN(test_busy);
    RUN(test_client_errors);
    RUN(test_missing_ids);
    RUN(test_client_config);
    return test_report();
}
