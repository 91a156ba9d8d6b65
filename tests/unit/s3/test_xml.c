/*
 * ListObjectsV2 and Error documents as AWS and Ceph RGW send them.
 */
#include <check.h>
#include <string.h>
#include <stdlib.h>
#include <apr_general.h>
#include <apr_strings.h>

#include "base/h5s3_errors.h"
#include "s3/h5s3_s3.h"
#include "s3/h5s3_s3_xml.h"
#include "unit_common.h"

#define ENTRY(pg, i) (&APR_ARRAY_IDX((pg)->entries, (i), h5s3_s3_entry))
#define PREFIX(pg, i) APR_ARRAY_IDX((pg)->prefixes, (i), const char *)

static apr_status_t parse(h5s3_s3_list_page **pg, const char *xml)
{
    return h5s3_s3_xml_parse_list(pg, xml, strlen(xml), pool);
}

/* The ListObjectsV2 response example of the S3 API reference. */
static const char aws_list[] =
    "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
    "<ListBucketResult xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">\n"
    "    <Name>bucket</Name>\n"
    "    <Prefix/>\n"
    "    <KeyCount>205</KeyCount>\n"
    "    <MaxKeys>1000</MaxKeys>\n"
    "    <IsTruncated>false</IsTruncated>\n"
    "    <Contents>\n"
    "        <Key>my-image.jpg</Key>\n"
    "        <LastModified>2009-10-12T17:50:30.000Z</LastModified>\n"
    "        <ETag>\"fba9dede5f27731c9771645a39863328\"</ETag>\n"
    "        <Size>434234</Size>\n"
    "        <StorageClass>STANDARD</StorageClass>\n"
    "    </Contents>\n"
    "</ListBucketResult>\n";

START_TEST(aws_sample)
{
    h5s3_s3_list_page *pg;
    h5s3_s3_entry *e;
    apr_time_exp_t tm;

    ck_assert_int_eq(parse(&pg, aws_list), APR_SUCCESS);
    ck_assert_int_eq(pg->entries->nelts, 1);
    ck_assert_int_eq(pg->prefixes->nelts, 0);
    ck_assert_int_eq(pg->truncated, 0);
    ck_assert_ptr_null(pg->next_token);
    ck_assert_int_eq(pg->key_count, 205);
    e = ENTRY(pg, 0);
    ck_assert_str_eq(e->key, "my-image.jpg");
    ck_assert_int_eq(e->size, 434234);
    ck_assert_str_eq(e->etag, "fba9dede5f27731c9771645a39863328");
    ck_assert_str_eq(e->last_modified, "2009-10-12T17:50:30.000Z");
    apr_time_exp_gmt(&tm, e->mtime);
    ck_assert_int_eq(tm.tm_year + 1900, 2009);
    ck_assert_int_eq(tm.tm_mon + 1, 10);
    ck_assert_int_eq(tm.tm_mday, 12);
    ck_assert_int_eq(tm.tm_hour, 17);
    ck_assert_int_eq(tm.tm_min, 50);
    ck_assert_int_eq(tm.tm_sec, 30);
}
END_TEST

/* What Ceph RGW 16 sends for list-type=2 with a delimiter, truncated. */
static const char rgw_list[] =
    "<?xml version=\"1.0\" encoding=\"UTF-8\"?>"
    "<ListBucketResult xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">"
    "<Name>h5data</Name><Prefix>dir/</Prefix>"
    "<NextContinuationToken>1ueGcxLPRx1Tr/XYExHnhbYLgveDs2J/wm36Hy4vbOwM="
    "</NextContinuationToken>"
    "<KeyCount>3</KeyCount><MaxKeys>3</MaxKeys><Delimiter>/</Delimiter>"
    "<IsTruncated>true</IsTruncated>"
    "<Contents><Key>dir/a &amp; b &lt;c&gt;.h5</Key>"
    "<LastModified>2024-05-01T10:11:12.345Z</LastModified>"
    "<ETag>&quot;9b2cf535f27731c974343645a3985328-2&quot;</ETag>"
    "<Size>1048576</Size><StorageClass>STANDARD</StorageClass>"
    "<Owner><ID>test</ID><DisplayName>test</DisplayName></Owner>"
    "<Type>Normal</Type></Contents>"
    "<Contents><Key>dir/caf\xc3\xa9 \xe2\x82\xac 100%+1.h5</Key>"
    "<LastModified>2024-05-01T10:11:13.000Z</LastModified>"
    "<ETag>&quot;d41d8cd98f00b204e9800998ecf8427e&quot;</ETag>"
    "<Size>0</Size><StorageClass>STANDARD</StorageClass>"
    "<Owner><ID>test</ID><DisplayName>test</DisplayName></Owner>"
    "<Type>Normal</Type></Contents>"
    "<CommonPrefixes><Prefix>dir/sub one/</Prefix></CommonPrefixes>"
    "</ListBucketResult>";

START_TEST(rgw_truncated_with_prefixes)
{
    h5s3_s3_list_page *pg;

    ck_assert_int_eq(parse(&pg, rgw_list), APR_SUCCESS);
    ck_assert_int_eq(pg->truncated, 1);
    ck_assert_str_eq(pg->next_token,
                     "1ueGcxLPRx1Tr/XYExHnhbYLgveDs2J/wm36Hy4vbOwM=");
    ck_assert_int_eq(pg->key_count, 3);
    ck_assert_int_eq(pg->entries->nelts, 2);
    ck_assert_str_eq(ENTRY(pg, 0)->key, "dir/a & b <c>.h5");
    ck_assert_str_eq(ENTRY(pg, 0)->etag,
                     "9b2cf535f27731c974343645a3985328-2");
    ck_assert_int_eq(ENTRY(pg, 0)->size, 1048576);
    ck_assert(ENTRY(pg, 0)->mtime % APR_USEC_PER_SEC == 345000);
    ck_assert_str_eq(ENTRY(pg, 1)->key,
                     "dir/caf\xc3\xa9 \xe2\x82\xac 100%+1.h5");
    ck_assert_int_eq(ENTRY(pg, 1)->size, 0);
    ck_assert_int_eq(pg->prefixes->nelts, 1);
    ck_assert_str_eq(PREFIX(pg, 0), "dir/sub one/");
}
END_TEST

START_TEST(no_namespace_and_char_refs)
{
    /* Numeric character references and no namespace (some gateways). */
    static const char xml[] =
        "<ListBucketResult><IsTruncated>false</IsTruncated>"
        "<Contents><Key>x&#233;&#x20AC;&apos;&quot;</Key><Size>7</Size>"
        "<ETag>abc</ETag></Contents></ListBucketResult>";
    h5s3_s3_list_page *pg;

    ck_assert_int_eq(parse(&pg, xml), APR_SUCCESS);
    ck_assert_int_eq(pg->entries->nelts, 1);
    ck_assert_str_eq(ENTRY(pg, 0)->key, "x\xc3\xa9\xe2\x82\xac'\"");
    ck_assert_str_eq(ENTRY(pg, 0)->etag, "abc");
    ck_assert_int_eq(pg->key_count, -1);
    ck_assert_ptr_null(ENTRY(pg, 0)->last_modified);
}
END_TEST

START_TEST(url_encoding_type)
{
    static const char xml[] =
        "<ListBucketResult xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">"
        "<EncodingType>url</EncodingType><IsTruncated>false</IsTruncated>"
        "<Contents><Key>a+b%2Bc%25d%C3%A9</Key><Size>1</Size></Contents>"
        "<CommonPrefixes><Prefix>p%20q/</Prefix></CommonPrefixes>"
        "</ListBucketResult>";
    h5s3_s3_list_page *pg;

    ck_assert_int_eq(parse(&pg, xml), APR_SUCCESS);
    ck_assert_str_eq(ENTRY(pg, 0)->key, "a b+c%d\xc3\xa9");
    ck_assert_str_eq(PREFIX(pg, 0), "p q/");
}
END_TEST

START_TEST(empty_listing)
{
    static const char xml[] =
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>"
        "<ListBucketResult xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">"
        "<Name>b</Name><Prefix>nothing/</Prefix><KeyCount>0</KeyCount>"
        "<MaxKeys>1000</MaxKeys><IsTruncated>false</IsTruncated>"
        "</ListBucketResult>";
    h5s3_s3_list_page *pg;

    ck_assert_int_eq(parse(&pg, xml), APR_SUCCESS);
    ck_assert_int_eq(pg->entries->nelts, 0);
    ck_assert_int_eq(pg->key_count, 0);
    ck_assert_int_eq(pg->truncated, 0);
}
END_TEST

START_TEST(malformed_rejected)
{
    h5s3_s3_list_page *pg = (void *)1;

    ck_assert_int_eq(parse(&pg, "<ListBucketResult><Contents><Key>a"),
                     H5S3_E_UPSTREAM);
    ck_assert_ptr_null(pg);
    ck_assert_int_eq(parse(&pg, "<ListBucketResult><Key>a</Kex>"
                                "</ListBucketResult>"), H5S3_E_UPSTREAM);
    ck_assert_int_eq(parse(&pg, "not xml at all"), H5S3_E_UPSTREAM);
    ck_assert_int_eq(parse(&pg, "<a>&undefined;</a>"), H5S3_E_UPSTREAM);
    ck_assert_int_eq(h5s3_s3_xml_parse_list(&pg, "", 0, pool),
                     H5S3_E_UPSTREAM);
    /* Well-formed, but not a listing. */
    ck_assert_int_eq(parse(&pg, "<Error><Code>X</Code></Error>"),
                     H5S3_E_UPSTREAM);
    /* A Contents without Key. */
    ck_assert_int_eq(parse(&pg, "<ListBucketResult><Contents><Size>1</Size>"
                                "</Contents></ListBucketResult>"),
                     H5S3_E_UPSTREAM);
    /* Truncated but no way to continue. */
    ck_assert_int_eq(parse(&pg, "<ListBucketResult><IsTruncated>true"
                                "</IsTruncated></ListBucketResult>"),
                     H5S3_E_UPSTREAM);
}
END_TEST

START_TEST(error_documents)
{
    /* The NoSuchKey example of the S3 error-response documentation. */
    static const char aws_err[] =
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
        "<Error>\n"
        "  <Code>NoSuchKey</Code>\n"
        "  <Message>The resource you requested does not exist</Message>\n"
        "  <Resource>/mybucket/myfoto.jpg</Resource> \n"
        "  <RequestId>4442587FB7D0A2F9</RequestId>\n"
        "</Error>";
    /* RGW's answer to a bad signature. */
    static const char rgw_err[] =
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Error>"
        "<Code>SignatureDoesNotMatch</Code>"
        "<RequestId>tx000000000000000000001-0066320000-1017-default</RequestId>"
        "<HostId>1017-default-default</HostId></Error>";
    const char *code, *msg;

    ck_assert_int_eq(h5s3_s3_xml_parse_error(&code, &msg, aws_err,
                                             strlen(aws_err), pool),
                     APR_SUCCESS);
    ck_assert_str_eq(code, "NoSuchKey");
    ck_assert_str_eq(msg, "The resource you requested does not exist");
    ck_assert_int_eq(h5s3_s3_xml_parse_error(&code, &msg, rgw_err,
                                             strlen(rgw_err), pool),
                     APR_SUCCESS);
    ck_assert_str_eq(code, "SignatureDoesNotMatch");
    ck_assert_ptr_null(msg);
    ck_assert_int_eq(h5s3_s3_xml_parse_error(&code, &msg, "<html>502</html>",
                                             16, pool), H5S3_E_UPSTREAM);
    ck_assert_ptr_null(code);
    ck_assert_int_eq(h5s3_s3_xml_parse_error(&code, &msg, "<Error><Code>",
                                             13, pool), H5S3_E_UPSTREAM);
}
END_TEST

START_TEST(iso8601)
{
    apr_time_t t;

    ck_assert_int_eq(h5s3_s3_parse_iso8601(&t, "1970-01-01T00:00:01Z"),
                     APR_SUCCESS);
    ck_assert(t == APR_USEC_PER_SEC);
    ck_assert_int_eq(h5s3_s3_parse_iso8601(&t, "1970-01-01T00:00:01.5Z"),
                     APR_SUCCESS);
    ck_assert(t == APR_USEC_PER_SEC + 500000);
    ck_assert_int_eq(h5s3_s3_parse_iso8601(&t, "2009-10-12 17:50:30Z"),
                     H5S3_E_INVALID);
    ck_assert_int_eq(h5s3_s3_parse_iso8601(&t, "2009-13-12T17:50:30Z"),
                     H5S3_E_INVALID);
    ck_assert_int_eq(h5s3_s3_parse_iso8601(&t, "2009-10-12T17:50:30+02:00"),
                     H5S3_E_INVALID);
}
END_TEST

static Suite *xml_suite(void)
{
    TCase *t;
    Suite *s = unit_suite("s3_xml", "docs", &t,
                          unit_setup, unit_teardown);

    tcase_add_test(t, aws_sample);
    tcase_add_test(t, rgw_truncated_with_prefixes);
    tcase_add_test(t, no_namespace_and_char_refs);
    tcase_add_test(t, url_encoding_type);
    tcase_add_test(t, empty_listing);
    tcase_add_test(t, malformed_rejected);
    tcase_add_test(t, error_documents);
    tcase_add_test(t, iso8601);
    return s;
}

int main(void)
{
    return unit_run(xml_suite());
}
