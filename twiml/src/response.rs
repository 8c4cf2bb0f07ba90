//! Turning documents into HTTP responses.

/// `200 OK` with `Content-Type: text/xml` and `body`.
pub(crate) fn xml_response<B: From<String>>(body: String) -> http::Response<B> {
    let mut response = http::Response::new(B::from(body));
    response.headers_mut().insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static("text/xml"),
    );
    response
}
