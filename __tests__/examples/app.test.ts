import request from 'supertest'
import { createApp } from '../../examples/app.js'
import { cookiePair } from '../support/http.js'

// The main example (`npm run example`), on the memory adapter.
describe('examples/app', () => {
  const { app, stash } = createApp({ secret: 'app test' })
  afterAll(() => stash.close())

  test('counts per client', async () => {
    const first = await request(app).get('/count').expect(200, { count: 1 })
    await request(app).get('/count').set('Cookie', cookiePair(first)).expect(200, { count: 2 })
    await request(app).get('/count').expect(200, { count: 1 })
  })

  test('20 parallel adds to the cart keep all 20 items (update), then the cart is emptied', async () => {
    const cookie = cookiePair(await request(app).post('/cart').send({ item: 'item 0' }).expect(201))
    const adds = await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        request(app)
          .post('/cart')
          .set('Cookie', cookie)
          .send({ item: `item ${i + 1}` }),
      ),
    )
    expect(adds.map((res) => res.status)).toEqual(Array(20).fill(201))
    const { body } = await request(app).get('/cart').set('Cookie', cookie).expect(200)
    expect([...(body.cart as string[])].sort()).toEqual(Array.from({ length: 21 }, (_, i) => `item ${i}`).sort())
    await request(app).delete('/cart').set('Cookie', cookie).expect(200, { cart: [] })
    await request(app).get('/cart').set('Cookie', cookie).expect(200, { cart: [] })
    await request(app).post('/cart').set('Cookie', cookie).send({}).expect(400)
  })
})
